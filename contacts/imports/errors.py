class ImportFileRefused(Exception):
    """The file as a whole cannot be imported (not a spreadsheet, hostile, too large): nothing is read."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
