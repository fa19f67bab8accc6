"""The one error type of card loading and validation."""

from __future__ import annotations

from hardware_models.errors import AnalogeqError, one_line


class CardError(AnalogeqError):
    """A device card that is not valid.

    ``json_path`` is the JSONPath of the offending field (``$`` for the whole document, e.g.
    ``$.adc.bits``), ``detail`` what is wrong with it and what is allowed, ``source`` the file
    it came from (or None). ``str(err)`` reads ``[source: ]json_path: detail``, on one line of
    at most :data:`hardware_models.errors.MAX_MESSAGE_CHARS` characters.
    """

    def __init__(self, json_path: str, detail: str, *, source: str | None = None):
        self.json_path = one_line(json_path, 120)
        self.detail = one_line(detail)
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__(one_line(f"{prefix}{self.json_path}: {self.detail}"))

    def with_source(self, source: str) -> "CardError":
        """The same error, naming the file it came from."""
        return CardError(self.json_path, self.detail, source=source)


def section_error(section: str, exc: Exception) -> CardError:
    """A section constructor's error (``exc.field``, ``exc.detail`` where it has them) as a
    CardError at ``$.section.field``; fields that already carry their section path keep it."""
    field = getattr(exc, "field", None)
    detail = getattr(exc, "detail", str(exc))
    if field is None:
        return CardError(f"$.{section}" if section else "$", detail)
    if section == "" or field.startswith(section + "."):
        return CardError(f"$.{field}", detail)
    return CardError(f"$.{section}.{field}", detail)
