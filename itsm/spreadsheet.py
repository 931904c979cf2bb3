"""CSV cells a spreadsheet shows as text and never runs: a cell starting like a formula (=, +,
-, @, a tab or a carriage return) gets a leading apostrophe (OWASP's CSV injection advice)."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text
