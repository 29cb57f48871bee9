"""CLI: init, info, verify, passwd, user add/list/remove/role/reset, patient add, patients, audit."""

from __future__ import annotations

import argparse
from typing import Any

from .common import (add_archive, emit, kdf_arg, kdf_from, open_archive, read_new_passphrase, read_passphrase,
                   user_for)
from ..archive import records
from ..archive.archive import ROLES, Archive
from ..archive.verify import verify


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser("init", parents=[parent], help="create a new encrypted archive")
    add_archive(p)
    p.add_argument("--role", choices=ROLES, default="admin", help="role of the first user (default admin)")
    kdf_arg(p)
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("info", parents=[parent], help="what an archive holds (counts, users, format)")
    add_archive(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("verify", parents=[parent], help="check the archive end to end")
    add_archive(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("passwd", parents=[parent], help="change your passphrase (rewraps your key slot only)")
    add_archive(p)
    p.add_argument("--new-passphrase-file", metavar="F")
    kdf_arg(p)
    p.set_defaults(func=cmd_passwd)

    user = sub.add_parser("user", help="archive users").add_subparsers(dest="user_command", metavar="ACTION")
    p = user.add_parser("add", parents=[parent], help="add a user (admins only)")
    add_archive(p)
    p.add_argument("--name", required=True)
    p.add_argument("--role", choices=ROLES, required=True)
    p.add_argument("--new-passphrase-file", metavar="F", help="the new user's passphrase")
    kdf_arg(p)
    p.set_defaults(func=cmd_user_add)
    p = user.add_parser("list", parents=[parent], help="list users")
    add_archive(p)
    p.set_defaults(func=cmd_user_list)
    p = user.add_parser("remove", parents=[parent],
                        help="remove a user and rotate the archive's keys (admins only; never the last admin)")
    add_archive(p)
    p.add_argument("--name", required=True)
    p.set_defaults(func=cmd_user_remove)
    p = user.add_parser("role", parents=[parent], help="change a user's role (admins only)")
    add_archive(p)
    p.add_argument("--name", required=True)
    p.add_argument("--role", choices=ROLES, required=True)
    p.set_defaults(func=cmd_user_role)
    p = user.add_parser("reset", parents=[parent],
                        help="give a user who forgot their passphrase a new one (admins only)")
    add_archive(p)
    p.add_argument("--name", required=True)
    p.add_argument("--new-passphrase-file", metavar="F", help="the user's new passphrase")
    kdf_arg(p)
    p.set_defaults(func=cmd_user_reset)

    patient = sub.add_parser("patient", help="patients").add_subparsers(dest="patient_command", metavar="ACTION")
    p = patient.add_parser("add", parents=[parent], help="add a patient")
    add_archive(p)
    p.add_argument("--nhi", required=True)
    p.add_argument("--family", required=True)
    p.add_argument("--given", default="")
    p.add_argument("--dob", metavar="YYYY-MM-DD")
    p.set_defaults(func=cmd_patient_add)

    p = sub.add_parser("patients", parents=[parent], help="list or search patients")
    add_archive(p)
    p.add_argument("--search", default="", metavar="TEXT", help="NHI or part of a name")
    p.set_defaults(func=cmd_patients)

    p = sub.add_parser("audit", parents=[parent], help="show the audit log")
    add_archive(p)
    p.add_argument("--action", help="only entries of this action")
    p.add_argument("--last", type=int, metavar="N", help="only the last N entries")
    p.add_argument("--acknowledge", action="store_true",
                   help="(admins) accept a rolled-back or cut audit log so the archive can be changed again")
    p.set_defaults(func=cmd_audit)


def cmd_init(args: argparse.Namespace) -> int:
    if not args.user:
        from ..errors import InvalidInput
        raise InvalidInput("Name the first user with --user NAME.")
    passphrase = read_passphrase(args) if (args.passphrase_file or _env_pass()) else read_new_passphrase(None, "passphrase")
    with Archive.create(args.archive, args.user, passphrase, kdf=kdf_from(args), role=args.role) as archive:
        slot = archive.header.slot_for(args.user)
        emit(args, {"archive": str(args.archive), "archive_id": archive.archive_id, "user": args.user,
                    "kdf": slot.kdf.as_json()},
             f"Created archive {args.archive} (user {args.user}, Argon2id {slot.kdf.iterations} passes, "
             f"{slot.kdf.memory_kib // 1024} MiB).")
    return 0


def _env_pass() -> bool:
    import os
    return bool(os.environ.get("DERMARCHIVE_PASSPHRASE_FILE"))


def cmd_info(args: argparse.Namespace) -> int:
    with open_archive(args) as a:
        n = records.counts(a)
        data = {
            "archive_id": a.archive_id, "format": a.header.version, "schema": a.catalogue.version(),
            "created": a.header.created,
            "users": [{"name": u.name, "role": u.role} for u in a.users()],
            "patients": n["patient"], "lesions": n["lesion"], "visits": n["visit"], "images": n["image"],
            "blobs": n["blob"], "audit_entries": n["audit"],
            "bytes_on_disk": a.disk_usage(),
        }
        emit(args, data, [f"{k.replace('_', ' ')}: {v}" for k, v in data.items() if k != "users"]
             + ["users: " + ", ".join(f"{u['name']} ({u['role']})" for u in data["users"])])
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .common import ProgressBar

    with open_archive(args) as a:
        problems = verify(a, ProgressBar())
    emit(args, {"ok": not problems, "problems": problems},
         problems or ["Archive verified: catalogue, every stored image and the audit chain are intact."])
    return 1 if problems else 0


def cmd_passwd(args: argparse.Namespace) -> int:
    old = read_passphrase(args)  # asked once: it opens the archive and proves the change
    with Archive.open(args.archive, user_for(args, args.archive), old) as a:
        a.change_passphrase(old, read_new_passphrase(args.new_passphrase_file), kdf=kdf_from(args))
        emit(args, {"user": a.user.name, "changed": True}, f"Passphrase of {a.user.name} changed.")
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    with open_archive(args) as a:
        user = a.add_user(args.name, args.role, read_new_passphrase(args.new_passphrase_file, "new user's passphrase"),
                          kdf=kdf_from(args))
        emit(args, {"id": user.id, "name": user.name, "role": user.role}, f"Added user {user.name} ({user.role}).")
    return 0


def cmd_user_remove(args: argparse.Namespace) -> int:
    from .common import ProgressBar

    with open_archive(args) as a:
        user = a.remove_user(args.name, ProgressBar())
        emit(args, {"removed": user.name, "role": user.role, "key_epoch": a.master.epoch},
             f"Removed user {user.name}. The archive's keys were changed: an old copy of archive.json "
             "opens nothing stored from now on.")
    return 0


def cmd_user_role(args: argparse.Namespace) -> int:
    with open_archive(args) as a:
        user = a.change_role(args.name, args.role)
        emit(args, {"name": user.name, "role": user.role}, f"{user.name} is now a {user.role}.")
    return 0


def cmd_user_reset(args: argparse.Namespace) -> int:
    with open_archive(args) as a:
        a.reset_passphrase(args.name, read_new_passphrase(args.new_passphrase_file, "user's new passphrase"),
                           kdf=kdf_from(args))
        emit(args, {"name": args.name, "reset": True}, f"Passphrase of {args.name} reset.")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    with open_archive(args) as a:
        users = a.users()
        emit(args, {"users": [{"id": u.id, "name": u.name, "role": u.role} for u in users]},
             [f"{u.name} ({u.role})" for u in users])
    return 0


def cmd_patient_add(args: argparse.Namespace) -> int:
    with open_archive(args) as a:
        p = records.add_patient(a, args.nhi, args.family, args.given, args.dob)
        emit(args, p.as_json(), f"Added patient {p.nhi} (id {p.id}).")
    return 0


def cmd_patients(args: argparse.Namespace) -> int:
    with open_archive(args) as a:
        found = records.find_patients(a, args.search)
        a.log_event("patient.view", {"patients": [p.id for p in found][:200]},
                    {"listed": len(found), "search": bool(args.search)})
        if args.json:
            emit(args, {"patients": [p.as_json() for p in found]})
        else:
            emit(args, {}, [f"{p.nhi}  {p.display_name:<30} {p.dob or '':<10}  {p.image_count} image(s)"
                            for p in found] or ["No patients found."])
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    with open_archive(args) as a:
        if args.acknowledge:
            problem = a.anchor_problem
            a.acknowledge_anchor()
            emit(args, {"acknowledged": problem}, f"Acknowledged: {problem} The archive can be changed again.")
            return 0
        entries = a.audit.entries(a.catalogue, action=args.action, limit=args.last)
        emit(args, {"entries": [e.as_json() for e in entries]},
             [f"{e.seq:>6} {e.at} {e.user:<12} {e.action:<18} {e.subject} {e.details}" for e in entries])
    return 0
