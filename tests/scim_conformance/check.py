"""Runs the independent scim2-tester checks against a running Gatehouse SCIM endpoint.

usage: check.py BASE_URL TOKEN TENANT_DOMAIN

Every check scim2-tester runs for the features ServiceProviderConfig declares must end
SUCCESS, COMPLIANT or ACCEPTABLE (or SKIPPED, when it does not apply); ERROR and CRITICAL
fail the run, and so does a DEVIATION (a SHOULD the server ignores).

One adjustment to the tester's *test data*, none to its checks: scim2-tester invents a
userName (a bare uuid) and email addresses at random domains (uuid@uuid.com), while
Gatehouse requires every person to have a sign-in address in one of the tenant's domains
(SECURITY-CHECKLIST T47). The generator is wrapped so userName and emails.value get a
random local part at the tenant's domain instead.
"""

import sys
import uuid

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient

import scim2_tester.checkers.patch_add as patch_add
import scim2_tester.checkers.patch_replace as patch_replace
import scim2_tester.filling as filling
from scim2_tester import Status, check_server

PASSING = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE, Status.SKIPPED}


def main() -> int:
    base, token, domain = sys.argv[1:4]
    original = filling.generate_random_value

    def is_address(path):
        name = str(path)
        if name.endswith("emails.value") or name.endswith("userName"):
            return True
        binding = path.resolve()
        model = binding.target_model if binding else None
        return (
            model is not None
            and binding.target_field_name == "value"
            and "email" in model.__name__.lower()
        )

    def generate(context, path, mutability=None, required=None):
        value = original(context, path, mutability=mutability, required=required)
        if value is not None and is_address(path):
            address = f"{uuid.uuid4().hex}@{domain}"
            return [address] if isinstance(value, list) else address
        return value

    for module in (filling, patch_add, patch_replace):
        module.generate_random_value = generate

    client = Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    scim = SyncSCIMClient(client)
    results = check_server(scim)
    passed = failed = skipped = 0
    for r in results:
        where = f"[{r.resource_type}] " if r.resource_type else ""
        line = f"{r.status.name:10} {where}{r.title}"
        if r.status == Status.SKIPPED:
            skipped += 1
        elif r.status in PASSING:
            passed += 1
        else:
            failed += 1
            line += f"\n           reason: {r.reason}\n           data: {str(r.data)[:600]}"
        print(line)
    print(f"scim2-tester: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
