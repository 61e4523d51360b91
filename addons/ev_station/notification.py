# This file is part of the EV operations suite.
"""The one way the suite tells people something: Tryton notifications
(res.notification) for a set of users or the members of a group.

Every module calls these instead of building notifications by hand:

    from trytond.modules.ev_station.notification import notify, group_users
    notify(group_users('ev_lead.group_central_ops'), jobs,
        lambda job: gettext('ev_field.msg_notify_unavailable', job=...))
"""
from trytond.pool import Pool
from trytond.transaction import without_check_access


def _group_ids(groups):
    "The ids of groups given as res.group records, ids or XML ids"
    ModelData = Pool().get('ir.model.data')
    ids = set()
    for group in groups:
        if not group:
            continue
        if isinstance(group, str):
            module, xml_id = group.split('.', 1)
            ids.add(ModelData.get_id(module, xml_id))
        else:
            ids.add(int(group))
    return ids


def group_users(*groups):
    """The active users of the groups, each given as a res.group record, its
    id or its XML id ('module.xml_id'); None and empty values are skipped"""
    User = Pool().get('res.user')
    ids = _group_ids(groups)
    if not ids:
        return []
    with without_check_access():
        return User.search(
            [('groups', 'in', list(ids))], order=[('id', 'ASC')])


def user_in_group(*groups):
    """Whether the current user is a member of one of the groups (given as
    for group_users)"""
    User = Pool().get('res.user')
    return bool(_group_ids(groups) & set(User.get_groups()))


def _text(value, record):
    return value(record) if callable(value) else value


def notify(users, records, label, description=None):
    """One notification per user and record, opening the record.

    `label` and `description` are a string or a function of the record (for
    a text that names it). Users are de-duplicated; returns the notifications.
    """
    pool = Pool()
    Notification = pool.get('res.notification')
    users = _unique(users)
    notifications = []
    for record in records:
        label_ = _text(label, record)
        description_ = _text(description, record)
        notifications.extend(Notification(
                user=user, label=label_, description=description_,
                model=record.__name__, records=f'[{record.id}]')
            for user in users)
    with without_check_access():
        Notification.save(notifications)
    return notifications


def notify_summary(users, records, label, description=None):
    "One notification per user that opens all the records at once"
    pool = Pool()
    Notification = pool.get('res.notification')
    records = list(records)
    if not records:
        return []
    notifications = [Notification(
            user=user, label=label, description=description,
            model=records[0].__name__,
            records=str([r.id for r in records]))
        for user in _unique(users)]
    with without_check_access():
        Notification.save(notifications)
    return notifications


def _unique(users):
    seen, unique = set(), []
    for user in users:
        if user and user.id not in seen:
            seen.add(user.id)
            unique.append(user)
    return unique
