from itsm.roles import Role, user_roles


def roles(request):
    """Expose the user's roles to templates so pages hide what the user may not do."""
    held = user_roles(request.user) if hasattr(request, "user") else set()
    return {
        "user_roles": held,
        "is_manager": bool(held & {Role.ITSM_MANAGER, Role.SUPER_ADMIN}),
        "is_read_only": held <= {Role.STAKEHOLDER},
    }
