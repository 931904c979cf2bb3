"""Who is on the other end of a request, as the lockout, the API throttle and the audit log
all see it: one address (axes' reading of it, so the three always agree) and a user agent."""

from axes.helpers import get_client_ip_address

from itsm.validation import UNSTORABLE


def client_address(request) -> str:
    return (get_client_ip_address(request) or "") if request is not None else ""


def client_agent(request) -> str:
    agent = request.META.get("HTTP_USER_AGENT", "") if request is not None else ""
    return storable(agent, 300)


def storable(text: str, max_length: int) -> str:
    """Text a client chose, cut to fit its column, without what no database stores."""
    return UNSTORABLE.sub("", text or "")[:max_length]
