import argparse

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from contacts.scoping import accounts_assign

# The account_id column's bound (PostgreSQL's integer).
ACCOUNT_ID_MAX = 2_147_483_647


def _account_id(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= ACCOUNT_ID_MAX:
        raise argparse.ArgumentTypeError(f"an account id is a whole number from 1 to {ACCOUNT_ID_MAX}, not {text!r}")
    return int(text)


class Command(BaseCommand):
    help = (
        "Assign recruiting-platform accounts to a user or a group, whose contacts they then see "
        "(or take them away with --remove). Running it again changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        holder = parser.add_mutually_exclusive_group(required=True)
        holder.add_argument("--user", help="the user's username")
        holder.add_argument("--group", help="the group's name")
        parser.add_argument("--remove", action="store_true", help="take the accounts away instead")
        parser.add_argument("account_ids", nargs="+", type=_account_id, metavar="ACCOUNT_ID")

    def handle(
        self, *args, user: str | None, group: str | None, remove: bool, account_ids: list[int], **options
    ) -> None:
        if user is not None:
            holder = User.objects.filter(username=user).first()
            described = f"user {user!r}"
        else:
            holder = Group.objects.filter(name=group).first()
            described = f"group {group!r}"
        if holder is None:
            raise CommandError(f"no {described}")
        changed = accounts_assign(holder=holder, account_ids=account_ids, remove=remove)
        unchanged = sorted(set(account_ids) - set(changed))
        if remove:
            verb, preposition, already = "removed", "from", "did not have"
        else:
            verb, preposition, already = "assigned", "to", "already had"
        if changed:
            self.stdout.write(f"{verb} accounts {_listed(changed)} {preposition} {described}")
        if unchanged:
            self.stdout.write(f"{described} {already} accounts {_listed(unchanged)}")


def _listed(ids: list[int]) -> str:
    return ", ".join(str(account_id) for account_id in ids)
