"""Where a webhook may be sent: public addresses only, unless an allow-list names the network.

Webhook addresses are typed by admins, but a delivery must never become a way to reach what sits
behind the platform: the cloud metadata service (169.254.169.254), the database (127.0.0.1:5432),
the office network (10/8, 192.168/16)… So, at every delivery, the host is resolved, every address
it resolves to is checked, and the connection goes to an address that was checked: a DNS answer
that changes between the check and the connection (DNS rebinding) cannot swap it. The resolver
normalises the integer, hexadecimal and short forms (``2130706433``, ``0x7f000001``, ``127.1``)
before the check; an IPv4 address carried inside an IPv6 one (``::ffff:127.0.0.1``, NAT64
``64:ff9b::/96``, 6to4 ``2002::/16``) is checked as the IPv4 address it carries.

``WEBHOOKS_ALLOWED_NETWORKS`` names the networks that may be reached all the same (a partner's
system on a private link, the tests' local receiver). It is matched against the address exactly as
resolved: ``127.0.0.1/32`` allows ``127.0.0.1``, not ``::ffff:127.0.0.1``.

A failed delivery is logged as a category in French (``failure_category``), never as the
exception's text: the log must not tell an admin what is (or is not) listening behind an address.
"""
import errno
import http.client
import ipaddress
import socket
import ssl
from functools import partial
from urllib.parse import SplitResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

NAT64 = ipaddress.ip_network("64:ff9b::/96")
FORBIDDEN = "Adresse interdite (réseau privé)"


class ForbiddenAddress(Exception):
    """The host is, or resolves to, an address that is not public and not allowed."""


class AllowListError(ValueError):
    """``WEBHOOKS_ALLOWED_NETWORKS`` holds something that is not a network."""


# --------------------------------------------------------------------------- the rule

def parse_allowed_networks(value) -> tuple[Network, ...]:
    """The allow-list setting: a list of networks (``["10.1.2.0/24", "::1/128"]``) or the same
    as one comma-separated string (from an environment variable)."""
    if not value:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    networks = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise AllowListError(f"WEBHOOKS_ALLOWED_NETWORKS : « {text} » n'est pas un réseau "
                                 "(par exemple 10.1.2.0/24 ou 127.0.0.1/32).") from None
    return tuple(networks)


def _carried_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if address.version != 6:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _public(address: IPAddress) -> bool:
    return not (address.is_private or address.is_loopback or address.is_link_local
                or address.is_multicast or address.is_reserved or address.is_unspecified
                or (address.version == 6 and address.is_site_local)
                or not address.is_global)  # also 100.64/10 (shared address space), 192.0.0/24…


def permitted(address: IPAddress, allowed: tuple[Network, ...] = ()) -> bool:
    """Whether a delivery may connect to ``address``: it is named by the allow-list, or it is
    public (and so is the IPv4 address it carries, if any)."""
    if any(address.version == network.version and address in network for network in allowed):
        return True
    carried = _carried_ipv4(address)
    return _public(address) and (carried is None or _public(carried))


def literal_address(host: str | None) -> IPAddress | None:
    """The address ``host`` spells, when it is one (``10.0.0.1``, ``::1``, ``2130706433``,
    ``0x7f000001``, ``0177.0.0.1``); ``None`` for a name."""
    if not host:
        return None
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    # The forms only the C library reads (integer, hexadecimal, octal, short): inet_aton never
    # asks a DNS server, so a name is simply not an address.
    if host and all(char in "0123456789abcdefxABCDEFX." for char in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def resolve(host: str, port: int, allowed: tuple[Network, ...] = ()) -> list[str]:
    """Every address ``host`` resolves to, checked; :class:`ForbiddenAddress` if any is refused
    (a name that resolves to one public and one private address is refused)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses = []
    for _family, _type, _proto, _name, sockaddr in infos:
        text = sockaddr[0]
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if not permitted(address, allowed):
            raise ForbiddenAddress(text)
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, "no address")
    return addresses


# --------------------------------------------------------------------------- the connection

def _connect_to_checked(addresses: list[str], destination, timeout, source_address=None):
    """``socket.create_connection`` to the checked addresses, never to the name again."""
    _host, port = destination[0], destination[1]
    last_error = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout, source_address)
        except OSError as error:
            last_error = error
    raise last_error


def pinned_connection(parts: SplitResult, allowed: tuple[Network, ...], timeout: float):
    """An HTTP(S) connection to ``parts``' host whose socket goes to a checked address; TLS still
    checks the certificate against the host's name (and sends it as SNI), the ``Host`` header
    still names the host."""
    https = parts.scheme == "https"
    host = parts.hostname
    port = parts.port or (443 if https else 80)
    addresses = resolve(host, port, allowed)
    connection_class = http.client.HTTPSConnection if https else http.client.HTTPConnection
    connection = connection_class(host, port, timeout=timeout)  # the port given: no parsing of host
    connection._create_connection = partial(_connect_to_checked, addresses)
    return connection


# --------------------------------------------------------------------------- what the log says

def failure_category(error: BaseException) -> str:
    """What a failed delivery shows in the log, in French; never the exception's own text."""
    if isinstance(error, ForbiddenAddress):
        return FORBIDDEN
    if isinstance(error, socket.gaierror):
        return "Nom de domaine introuvable"
    if isinstance(error, ssl.SSLCertVerificationError):
        return "Certificat invalide"
    if isinstance(error, TimeoutError):  # socket.timeout too, and a TLS handshake that times out
        return "Délai dépassé"
    if isinstance(error, ssl.SSLError):
        return "Échec de la connexion chiffrée (TLS)"
    if isinstance(error, ConnectionRefusedError):
        return "Connexion refusée"
    if isinstance(error, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return "Connexion interrompue par le destinataire"
    if isinstance(error, OSError) and error.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "Destinataire injoignable"
    if isinstance(error, (http.client.InvalidURL, ValueError)):
        return "Adresse invalide"
    if isinstance(error, http.client.HTTPException):
        return "Réponse invalide du destinataire"
    return "Échec de l'envoi"
