"""The loops run beside the server: every pass's summary printed, an error in one pass does not stop
the loop, Ctrl+C ends it cleanly (webhooks and notifications share the loop)."""
from unittest import mock

from atelier import loops


def test_a_loop_survives_an_error_and_stops_on_ctrl_c(app, capsys):
    calls = []

    def one_pass():
        calls.append(1)
        if len(calls) == 1:
            return "Notifications : 2 envoyée(s)"
        if len(calls) == 2:
            raise RuntimeError("base indisponible")
        if len(calls) == 3:
            return None  # nothing to do: nothing printed
        raise KeyboardInterrupt

    with mock.patch.object(loops.time, "sleep"):
        loops.run_every(0.1, one_pass, name="notifications")
    out, err = capsys.readouterr()
    assert len(calls) == 4
    assert "Envoi des notifications : toutes les 0.1 s" in out and "Notifications : 2 envoyée(s)" in out
    assert "Erreur pendant l'envoi des notifications : base indisponible" in err
    assert out.rstrip().endswith("Envoi des notifications arrêté.")


def test_send_notifications_loop_sends_what_is_due_on_each_pass(app, runner):
    passes = []

    def send_due():
        passes.append(1)
        if len(passes) == 3:
            raise KeyboardInterrupt
        return {"sent": 1, "retry": 0, "failed": 0, "skipped": 0}

    with mock.patch("atelier.notifications.sending.send_due", send_due), mock.patch.object(loops.time, "sleep"):
        result = runner.invoke(args=["send-notifications", "--loop", "0.5"])
    assert result.exit_code == 0, result.output
    assert len(passes) == 3 and result.output.count("Notifications : 1 envoyée(s)") == 2


def test_serve_prod_sends_emails_from_the_loop_not_the_requests():
    with open("Makefile", encoding="utf-8") as makefile:
        recipe = makefile.read().split("\nserve-prod:", 1)[1].split("\n\n", 1)[0]
    assert "ATELIER_NOTIFICATIONS_SEND_AFTER_COMMIT=false" in recipe
    assert "send-notifications --loop" in recipe
