"""One application error type, mapped to one API error shape and to portal messages."""


class ApplicationError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, fields: dict | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code

    def as_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "fields": self.fields}}


class ValidationFailed(ApplicationError):
    status = 400
    code = "invalid"

    @classmethod
    def for_fields(cls, fields: dict[str, str | list[str]]) -> "ValidationFailed":
        normalised = {k: v if isinstance(v, list) else [v] for k, v in fields.items()}
        names = ", ".join(sorted(normalised))
        return cls(f"Invalid input: {names}.", fields=normalised)


class PermissionDeniedError(ApplicationError):
    status = 403
    code = "permission_denied"


class NotFoundError(ApplicationError):
    status = 404
    code = "not_found"


class InvalidTransition(ApplicationError):
    status = 409
    code = "invalid_transition"


class ConflictError(ApplicationError):
    status = 409
    code = "conflict"
