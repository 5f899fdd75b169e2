"""What the benchmarks share: valid, distinct SIRETs for generated companies."""
from stdnum import luhn


def siret(seed: int) -> str:
    """A valid SIRET (Luhn on the SIREN and on the whole number), different for each ``seed``."""
    siren8 = f"{(seed * 7919 + 13) % 10**8:08d}"
    siren = siren8 + luhn.calc_check_digit(siren8)
    nic4 = f"{seed % 10**4:04d}"
    return siren + nic4 + luhn.calc_check_digit(siren + nic4)
