"""Strings Flask-AppBuilder shows but its own Chinese catalogue does not translate.

They are marked here so that ``pybabel extract`` puts them into orgcarbon's catalogue, whose
translations are merged after FAB's and therefore win. Never imported at run time.
"""

from flask_babel import lazy_gettext as _

FAB_UNTRANSLATED = (
    _("Add"),
    _("Edit"),
    _("Show"),
    _("Delete"),
    _("Are you sure you want to delete this item?"),
    _("Database Error"),
    _("Contains (insensitive)"),
    _("In"),
    _("Not In"),
    _("Either select a role or a group"),
    _("List Groups"),
    _("Show Group"),
    _("Add Group"),
    _("Edit Group"),
    _("Groups"),
    _("Edit User Information"),
    _("User information changed"),
    _("The user's password for authentication"),
    _("User(s) exists in the role, cannot delete"),
    _("User(s) exists in the group, cannot delete"),
    _("Sign In with "),
    _("OpenID"),
    # AuditMixin columns and generated titles
    _("Created On"),
    _("Changed On"),
    _("Created By"),
    _("Changed By"),
    _("Security"),
    _("System"),
)
