"""What a robot reading the HTML cannot see, checked in Chromium: the focus is visible on everything the
Tab key reaches, the skip link works, the browser ties each error to its field (accessible name and
description as a screen reader gets them), a phone 360 pixels wide can register and declare a company
with nothing wider than the screen, and the axe-core check of test_browser_story does see a contrast
problem when there is one (so that its silence means something)."""
import re
from types import SimpleNamespace

import pytest

from conftest import make_siret
from live import LiveServer, launch_chromium, make_live_app, mailed_link, require_browser, step

PASSWORD = "une phrase de passe pour les tests"

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el), box = el.getBoundingClientRect();
  return {
    tag: el.tagName.toLowerCase(), id: el.id, cls: el.className,
    text: (el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 40),
    outlineStyle: style.outlineStyle, outlineWidth: parseFloat(style.outlineWidth) || 0,
    outlineColor: style.outlineColor, boxShadow: style.boxShadow,
    onScreen: box.width > 0 && box.height > 0 && box.bottom > 0 && box.right > 0
              && box.top < window.innerHeight && box.left < window.innerWidth,
  };
}"""


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    require_browser()
    from playwright.sync_api import sync_playwright

    folder = tmp_path_factory.mktemp("clavier")
    app = make_live_app(folder)
    server = LiveServer(app).start()
    playwright = sync_playwright().start()
    browser = launch_chromium(playwright)
    try:
        yield SimpleNamespace(app=app, url=server.url, browser=browser, mail=folder / "mail")
    finally:
        browser.close()
        playwright.stop()
        server.stop()


@pytest.fixture
def page(live):
    context = live.browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def _describe(focused) -> str:
    return f"<{focused['tag']} id={focused['id']!r} class={focused['cls']!r}> « {focused['text']} »"


def test_the_focus_is_visible_on_everything_the_tab_key_reaches_on_the_login_page(live, page):
    page.goto(live.url + "/connexion")
    reached, invisible = [], []
    with step("tabulations sur la page de connexion", page):
        for _ in range(40):
            page.keyboard.press("Tab")
            focused = page.evaluate(FOCUSED)
            if focused is None or (reached and focused == reached[0]):
                break  # back to the address bar (or round to the first element): the whole page is done
            reached.append(focused)
            ring = (focused["outlineStyle"] not in ("none", "hidden") and focused["outlineWidth"] >= 2
                    and focused["outlineColor"] not in ("transparent", "rgba(0, 0, 0, 0)"))
            if not ring and focused["boxShadow"] in ("none", ""):
                invisible.append(f"{_describe(focused)} : pas de contour ({focused['outlineStyle']} "
                                 f"{focused['outlineWidth']} px {focused['outlineColor']})")
            elif not focused["onScreen"]:
                invisible.append(f"{_describe(focused)} : hors de l'écran quand il a le focus")
    assert not invisible, "\n".join(invisible)
    kinds = [(item["tag"], item["id"]) for item in reached]
    assert reached[0]["cls"] == "skip-link", kinds  # the first stop of the page is the skip link
    assert ("input", "email") in kinds and ("input", "password") in kinds, kinds
    assert any(item["tag"] == "button" and item["text"] == "Se connecter" for item in reached), kinds
    assert len(reached) >= 8, kinds  # the menu, the form, the links under it and the footer's


def test_the_skip_link_takes_the_focus_to_the_main_content(live, page):
    page.goto(live.url + "/dispositifs/")
    with step("lien d'évitement", page):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        assert focused["cls"] == "skip-link" and focused["text"] == "Aller au contenu", focused
        assert focused["onScreen"], "le lien d'évitement doit apparaître quand il a le focus"
        page.keyboard.press("Enter")
        assert page.evaluate("() => document.activeElement.id") == "contenu"
        assert page.url.endswith("#contenu")
        # The next Tab goes on from the content, not from the top of the page's menu.
        page.keyboard.press("Tab")
        assert page.evaluate("() => !!document.activeElement.closest('main')"), page.evaluate(FOCUSED)


def test_the_browser_ties_each_error_to_its_field(live, page):
    from playwright.sync_api import expect

    page.goto(live.url + "/inscription")
    with step("erreurs du formulaire d'inscription", page):
        form = page.locator("main form")
        form.get_by_label("Prénom et nom").fill("Camille")
        form.get_by_label("Adresse électronique").fill("pas-une-adresse")
        form.get_by_label("Mot de passe", exact=False).first.fill("court")
        form.get_by_label("Confirmez le mot de passe").fill("court")
        form.get_by_role("button", name="Créer mon compte").click()
        page.wait_for_load_state()
        summary = page.locator(".error-summary")
        expect(summary).to_be_visible()
        expect(summary).to_have_attribute("role", "alert")
        email = page.get_by_role("textbox", name=re.compile("Adresse électronique"))
        expect(email).to_have_attribute("aria-invalid", "true")
        expect(email).to_have_accessible_description(re.compile(r"\S"))
        error = page.locator("#email-error")
        expect(error).to_be_visible()
        described = email.evaluate("(el) => el.getAttribute('aria-describedby')")
        assert "email-error" in described.split()
        password = page.locator("#password")
        expect(password).to_have_accessible_description(re.compile("12 caractères"))
        # Each link of the summary moves to its field.
        summary.get_by_role("link").first.click()
        assert page.evaluate("() => document.activeElement.getAttribute('aria-invalid')") == "true"


def test_a_phone_360_pixels_wide_registers_and_declares_a_company(live):
    context = live.browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True,
                                       device_scale_factor=2, locale="fr-FR")
    context.set_default_timeout(10_000)
    page = context.new_page()
    too_wide = []

    def tap(locator):
        with page.expect_navigation():
            locator.tap()
        measure()

    def measure():
        width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        if width[0] > width[1]:
            too_wide.append(f"{page.url} : {width[0]} px pour un écran de {width[1]} px")

    try:
        with step("inscription sur téléphone", page):
            page.goto(live.url + "/")
            measure()
            tap(page.get_by_role("main").get_by_role("link", name="Créer un compte"))
            form = page.locator("main form")
            form.get_by_label("Prénom et nom").fill("Alix Mobile")
            form.get_by_label("Adresse électronique").fill("alix@exemple.fr")
            form.get_by_label("Mot de passe", exact=False).first.fill(PASSWORD)
            form.get_by_label("Confirmez le mot de passe").fill(PASSWORD)
            tap(form.get_by_role("button", name="Créer mon compte"))
            assert page.locator(".error-summary").count() == 0
            page.goto(live.url + mailed_link(live.mail, "alix@exemple.fr", "/inscription/confirmer/"))
            measure()
            tap(page.locator("main form").get_by_role("button", name="Créer mon compte"))
            assert page.locator(".error-summary").count() == 0
        with step("entreprise déclarée sur téléphone", page):
            tap(page.get_by_role("navigation", name="Navigation principale").get_by_role(
                "link", name="Mes entreprises"))
            tap(page.get_by_role("link", name="Déclarer une entreprise"))
            form = page.locator("main form")
            form.get_by_label("Numéro SIRET").fill(make_siret(360))
            form.get_by_label("Raison sociale").fill("Fromagerie du Haut-Doubs")
            form.get_by_label("Forme juridique").select_option("SARL")
            form.get_by_label("Code NAF").fill("10.51C")
            form.get_by_label("Effectif salarié").fill("6")
            form.get_by_label("Chiffre d'affaires annuel").fill("900 000")
            form.get_by_label("Total du bilan").fill("400000")
            form.get_by_label("Adresse de l'établissement").fill("1 route de Pontarlier")
            form.get_by_label("Code postal").fill("25300")
            form.get_by_label("Commune").fill("Pontarlier")
            button = form.get_by_role("button").last
            box = button.bounding_box()
            assert box["width"] <= 360 and box["height"] >= 24, box  # a target a finger can hit
            tap(button)
            assert page.locator(".error-summary").count() == 0
            assert "Fromagerie du Haut-Doubs" in page.locator("h1").inner_text()
    finally:
        context.close()
    assert not too_wide, "\n".join(too_wide)
    assert not live.app.server_errors, live.app.server_errors


def test_the_axe_check_sees_a_contrast_problem(live, page):
    """The same axe-core run as the story's: silent on the real page, it names a pale grey text."""
    from axe_playwright_python.sync_playwright import Axe

    page.goto(live.url + "/")
    serious = {violation["id"] for violation in Axe().run(page).response["violations"]
               if violation["impact"] in ("serious", "critical")}
    assert serious == set()
    page.evaluate("""() => {
      const p = document.createElement('p');
      p.textContent = 'Texte trop pâle';
      p.style.color = '#dddddd';
      document.querySelector('main').appendChild(p);
    }""")
    serious = {violation["id"] for violation in Axe().run(page).response["violations"]
               if violation["impact"] in ("serious", "critical")}
    assert "color-contrast" in serious


def test_a_failing_step_leaves_a_screenshot_and_says_where(live, page, tmp_path):
    page.goto(live.url + "/connexion")
    with pytest.raises(AssertionError) as failure:
        with step("Une étape qui échoue exprès", page, folder=tmp_path):
            assert page.locator("h1").inner_text() == "Autre chose"
    screenshot = tmp_path / "une-tape-qui-choue-expr-s-0.png"
    assert screenshot.read_bytes().startswith(b"\x89PNG")
    assert str(screenshot) in "\n".join(getattr(failure.value, "__notes__", []))
