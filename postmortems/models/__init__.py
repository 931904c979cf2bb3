from postmortems.models.action_items import ActionItem, ActionItemNag

__all__ = ["ActionItem", "ActionItemNag"]
