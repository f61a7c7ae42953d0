"""KMS: keys, aliases, ciphertext, and who may use a key (key policy, IAM, grants), plus what keys cost."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from engine.protocol.client import Call
from engine.security import AccessRecord

ACCOUNT = "123456789012"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def session(role: str) -> str:
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/SageMaker"


def make_role(eng, name: str, actions: list[str] | None = None, resource: str = "*") -> str:
    iam = eng.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    if actions:
        doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]}
        iam.put_role_policy(RoleName=name, PolicyName="kms", PolicyDocument=json.dumps(doc))
    return arn


def key_policy(*statements) -> str:
    admin = {"Sid": "KeyAdmin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/admin"},
             "Action": "kms:*", "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [admin, *statements]})


@pytest.fixture
def kms(eng):
    return eng.client("kms")


@pytest.fixture
def backend(eng):
    return eng._world.services["kms"]


@pytest.fixture
def key(kms):
    return kms.create_key(Description="training data")["KeyMetadata"]


def code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def message(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Message"]


# -- keys and aliases ----------------------------------------------------------------------------------------------
def test_create_describe_and_alias_round_trip(kms, key):
    assert key["KeyState"] == "Enabled" and key["KeyManager"] == "CUSTOMER" and key["Enabled"]
    assert key["Arn"] == f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{key['KeyId']}"
    assert key["KeySpec"] == "SYMMETRIC_DEFAULT" and key["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    kms.create_alias(AliasName="alias/training", TargetKeyId=key["KeyId"])
    for ref in (key["KeyId"], key["Arn"], "alias/training", f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/training"):
        assert kms.describe_key(KeyId=ref)["KeyMetadata"]["KeyId"] == key["KeyId"]
    assert {"KeyId": key["KeyId"], "KeyArn": key["Arn"]} in kms.list_keys()["Keys"]
    aliases = kms.list_aliases(KeyId=key["KeyId"])["Aliases"]
    assert [a["AliasName"] for a in aliases] == ["alias/training"] and aliases[0]["TargetKeyId"] == key["KeyId"]
    kms.delete_alias(AliasName="alias/training")
    assert kms.list_aliases(KeyId=key["KeyId"])["Aliases"] == []


def test_key_ids_are_uuid_shaped_and_fixed_by_the_seed(eng, key):
    from engine import Engine

    other = Engine(seed=7).client("kms").create_key()["KeyMetadata"]["KeyId"]
    assert other == key["KeyId"]
    assert [len(part) for part in key["KeyId"].split("-")] == [8, 4, 4, 4, 12]


def test_unknown_key_and_alias_are_not_found_with_aws_text(kms):
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId="1234abcd-12ab-34cd-56ef-1234567890ab")
    assert code(e) == "NotFoundException"
    assert message(e) == f"Key 'arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab' does not exist"
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId="alias/x")
    assert message(e) == f"Alias arn:aws:kms:us-east-1:{ACCOUNT}:alias/x is not found."


def test_alias_names_are_checked(kms, key):
    with pytest.raises(ClientError) as e:
        kms.create_alias(AliasName="alias/aws/mine", TargetKeyId=key["KeyId"])
    assert code(e) == "NotAuthorizedException"
    with pytest.raises(ClientError) as e:
        kms.create_alias(AliasName="training", TargetKeyId=key["KeyId"])
    assert code(e) == "InvalidAliasNameException"
    kms.create_alias(AliasName="alias/training", TargetKeyId=key["KeyId"])
    with pytest.raises(ClientError) as e:
        kms.create_alias(AliasName="alias/training", TargetKeyId=key["KeyId"])
    assert code(e) == "AlreadyExistsException"


def test_default_key_policy_delegates_to_iam(kms, key):
    out = kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")
    st = json.loads(out["Policy"])["Statement"]
    assert st == [{"Sid": "Enable IAM User Permissions", "Effect": "Allow",
                   "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}]
    assert kms.list_key_policies(KeyId=key["KeyId"])["PolicyNames"] == ["default"]


def test_put_key_policy_refuses_to_lock_the_caller_out_unless_bypassed(eng, kms, key):
    other = make_role(eng, "Other")
    lockout = json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"AWS": other}, "Action": "kms:*",
                                         "Resource": "*"}]})
    with pytest.raises(ClientError) as e:
        kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=lockout)
    assert code(e) == "MalformedPolicyDocumentException"
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=lockout, BypassPolicyLockoutSafetyCheck=True)
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId=key["KeyId"])
    assert code(e) == "AccessDeniedException"


def test_tags_and_rotation(kms, key):
    kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "team", "TagValue": "ml"}])
    assert kms.list_resource_tags(KeyId=key["KeyId"])["Tags"] == [{"TagKey": "team", "TagValue": "ml"}]
    kms.untag_resource(KeyId=key["KeyId"], TagKeys=["team"])
    assert kms.list_resource_tags(KeyId=key["KeyId"])["Tags"] == []
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False
    kms.enable_key_rotation(KeyId=key["KeyId"])
    status = kms.get_key_rotation_status(KeyId=key["KeyId"])
    assert status["KeyRotationEnabled"] and status["RotationPeriodInDays"] == 365


def test_only_symmetric_encryption_keys_are_simulated(kms):
    with pytest.raises(ClientError) as e:
        kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
    assert code(e) == "UnsupportedOperationException"


# -- ciphertext ------------------------------------------------------------------------------------------------------
def test_encrypt_decrypt_round_trip_finds_the_key_from_the_ciphertext(kms, key):
    out = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"label,feature", EncryptionContext={"purpose": "train"})
    assert out["KeyId"] == key["Arn"] and b"label,feature" not in out["CiphertextBlob"]
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"purpose": "train"})
    assert back["Plaintext"] == b"label,feature" and back["KeyId"] == key["Arn"]


def test_garbage_or_wrong_context_is_invalid_ciphertext(kms, key):
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=b"not a kms ciphertext at all, just some bytes")
    assert code(e) == "InvalidCiphertextException"
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"a": "1"})["CiphertextBlob"]
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "2"})
    assert code(e) == "InvalidCiphertextException"


def test_data_keys_and_re_encrypt(kms, key):
    dk = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
    assert len(dk["Plaintext"]) == 32
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
    assert "Plaintext" not in kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], NumberOfBytes=16)
    other = kms.create_key()["KeyMetadata"]
    moved = kms.re_encrypt(CiphertextBlob=dk["CiphertextBlob"], DestinationKeyId=other["KeyId"])
    assert moved["SourceKeyId"] == key["Arn"] and moved["KeyId"] == other["Arn"]
    assert kms.decrypt(CiphertextBlob=moved["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]


# -- who may use a key -------------------------------------------------------------------------------------------------
def test_role_may_use_key_through_default_policy_and_iam_allow(eng, backend, key):
    role = make_role(eng, "DataRole", ["kms:Decrypt", "kms:GenerateDataKey"])
    use = backend.use(session("DataRole"), key["Arn"], "kms:Decrypt")
    assert use.allowed and use.code == "" and use.key_arn == key["Arn"] and use.customer_managed
    as_role = eng.client("kms", as_role=role)
    blob = as_role.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=32)["CiphertextBlob"]
    assert len(as_role.decrypt(CiphertextBlob=blob)["Plaintext"]) == 32


def test_role_without_iam_permission_is_denied_with_aws_sentence(eng, backend, key):
    role = make_role(eng, "DataRole", ["s3:GetObject"])
    use = backend.use(session("DataRole"), key["KeyId"], "kms:Decrypt")
    assert not use.allowed and use.code == "AccessDeniedException"
    assert use.message == (f"User: {session('DataRole')} is not authorized to perform: kms:Decrypt on resource: "
                           f"{key['Arn']} because no identity-based policy allows the kms:Decrypt action")
    with pytest.raises(ClientError) as e:
        eng.client("kms", as_role=role).encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    assert code(e) == "AccessDeniedException"
    assert message(e).endswith("because no identity-based policy allows the kms:Encrypt action")


def test_key_policy_naming_another_role_denies_even_when_iam_allows(eng, kms, backend):
    make_role(eng, "DataRole", ["kms:*"])
    other = make_role(eng, "OtherRole")  # no IAM policy at all
    pol = key_policy({"Sid": "OtherOnly", "Effect": "Allow", "Principal": {"AWS": other}, "Action": "kms:Decrypt",
                      "Resource": "*"})
    key = kms.create_key(Policy=pol)["KeyMetadata"]
    use = backend.use(session("DataRole"), key["KeyId"], "kms:Decrypt")
    assert use.message == (f"User: {session('DataRole')} is not authorized to perform: kms:Decrypt on resource: "
                           f"{key['Arn']} because no resource-based policy allows the kms:Decrypt action")
    # the named role needs no IAM permission: the key policy allows its sessions directly
    assert backend.use(session("OtherRole"), key["KeyId"], "kms:Decrypt").allowed
    assert not backend.use(session("OtherRole"), key["KeyId"], "kms:Encrypt").allowed


def test_explicit_deny_in_key_policy_beats_iam_allow(eng, kms, backend):
    role = make_role(eng, "DataRole", ["kms:*"])
    pol = json.dumps({"Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "NoDecryptForDataRole", "Effect": "Deny", "Principal": {"AWS": role}, "Action": "kms:Decrypt",
         "Resource": "*"}]})
    key = kms.create_key(Policy=pol)["KeyMetadata"]
    use = backend.use(session("DataRole"), key["KeyId"], "kms:Decrypt")
    assert not use.allowed
    assert use.message.endswith(f"on resource: {key['Arn']} with an explicit deny in a resource-based policy")
    assert backend.use(session("DataRole"), key["KeyId"], "kms:Encrypt").allowed


def test_explicit_deny_in_iam_beats_key_policy_allow(eng, kms, backend):
    role = make_role(eng, "DataRole")
    eng.client("iam").put_role_policy(RoleName="DataRole", PolicyName="deny", PolicyDocument=json.dumps(
        {"Statement": [{"Effect": "Deny", "Action": "kms:*", "Resource": "*"}]}))
    key = kms.create_key(Policy=key_policy({"Effect": "Allow", "Principal": {"AWS": role}, "Action": "kms:*",
                                            "Resource": "*"}))["KeyMetadata"]
    use = backend.use(session("DataRole"), key["KeyId"], "kms:Decrypt")
    assert use.message.endswith("with an explicit deny in an identity-based policy")


def test_grant_lets_a_role_use_a_key_its_policies_do_not_cover(eng, kms, backend):
    role = make_role(eng, "DataRole")
    key = kms.create_key(Policy=key_policy())["KeyMetadata"]
    assert not backend.use(session("DataRole"), key["KeyId"], "kms:Decrypt").allowed
    grant = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=role, Operations=["Decrypt"],
                             Constraints={"EncryptionContextSubset": {"job": "train-1"}})
    ctx = {"kms:EncryptionContext:job": "train-1"}
    assert backend.use(session("DataRole"), key["KeyId"], "kms:Decrypt", context=ctx).allowed
    assert not backend.use(session("DataRole"), key["KeyId"], "kms:Decrypt").allowed  # constraint unmet
    assert not backend.use(session("DataRole"), key["KeyId"], "kms:Encrypt", context=ctx).allowed
    listed = kms.list_grants(KeyId=key["KeyId"])["Grants"]
    assert [(g["GrantId"], g["GranteePrincipal"], g["Operations"]) for g in listed] == \
        [(grant["GrantId"], role, ["Decrypt"])]
    kms.revoke_grant(KeyId=key["KeyId"], GrantId=grant["GrantId"])
    assert not backend.use(session("DataRole"), key["KeyId"], "kms:Decrypt", context=ctx).allowed


def test_retiring_principal_may_retire_a_grant(eng, kms, backend, key):
    role = make_role(eng, "DataRole")
    grant = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=role, Operations=["Encrypt"],
                             RetiringPrincipal=role)
    eng.client("kms", as_role=role).retire_grant(GrantToken=grant["GrantToken"])
    assert kms.list_grants(KeyId=key["KeyId"])["Grants"] == []


def test_disabled_key_is_disabled_exception(kms, backend, key):
    kms.disable_key(KeyId=key["KeyId"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    use = backend.use("arn:aws:iam::123456789012:user/admin", key["KeyId"], "kms:Encrypt")
    assert (use.code, use.message) == ("DisabledException", f"{key['Arn']} is disabled.")
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    assert code(e) == "DisabledException"
    kms.enable_key(KeyId=key["KeyId"])
    assert kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["KeyId"] == key["Arn"]


def test_pending_deletion_is_invalid_state_then_cancel_leaves_it_disabled(eng, kms, backend, key):
    with pytest.raises(ClientError) as e:
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=5)
    assert code(e) == "ValidationException"
    out = kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert out["KeyState"] == "PendingDeletion" and out["DeletionDate"] == eng.now + timedelta(days=7)
    use = backend.use("arn:aws:iam::123456789012:user/admin", key["KeyId"], "kms:Decrypt")
    assert (use.code, use.message) == ("KMSInvalidStateException", f"{key['Arn']} is pending deletion.")
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    assert code(e) == "KMSInvalidStateException"
    kms.cancel_key_deletion(KeyId=key["KeyId"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"


def test_key_is_gone_after_the_waiting_period(eng, kms, key):
    kms.create_alias(AliasName="alias/doomed", TargetKeyId=key["KeyId"])
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    eng.advance(7 * 86400 + 1)
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId=key["KeyId"])
    assert code(e) == "NotFoundException"
    assert "alias/doomed" not in [a["AliasName"] for a in kms.list_aliases()["Aliases"]]


def test_aws_managed_key_is_created_on_first_use(eng, kms, backend):
    assert kms.list_keys()["Keys"] == []
    s3_alias = next(a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/aws/s3")
    assert "TargetKeyId" not in s3_alias
    make_role(eng, "DataRole")  # no KMS permission: the managed key's policy allows use through S3
    use = backend.use(session("DataRole"), "alias/aws/s3", "kms:GenerateDataKey", via_service="s3")
    assert use.allowed and not use.customer_managed
    md = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert md["KeyManager"] == "AWS" and md["Arn"] == use.key_arn
    assert backend.aws_managed_key("alias/aws/s3").arn == use.key_arn
    assert not backend.use(session("DataRole"), "alias/aws/s3", "kms:GenerateDataKey").allowed  # not via S3
    assert not backend.use(session("DataRole"), "alias/aws/s3", "kms:Decrypt", via_service="sagemaker").allowed
    with pytest.raises(ClientError) as e:
        kms.schedule_key_deletion(KeyId="alias/aws/s3")
    assert code(e) == "AccessDeniedException"


def test_unknown_key_use_is_not_found(backend):
    use = backend.use(session("DataRole"), "alias/missing", "kms:Decrypt")
    assert (use.allowed, use.code) == (False, "NotFoundException")


def test_use_records_an_access_record_for_each_decision(eng, backend, key):
    make_role(eng, "DataRole", ["kms:Decrypt"])
    job = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:training-job/j1"
    backend.use(session("DataRole"), key["KeyId"], "kms:Decrypt", on_behalf_of=job)
    backend.use(session("DataRole"), key["KeyId"], "Encrypt", on_behalf_of=job)
    records = eng._world.security.access[-2:]
    assert records == [
        AccessRecord(eng.seconds, session("DataRole"), "kms:Decrypt", key["Arn"], True, "allowed", job),
        AccessRecord(eng.seconds, session("DataRole"), "kms:Encrypt", key["Arn"], False,
                     "no identity-based policy allows", job)]


def test_authorize_call_uses_the_key_policy_and_leaves_account_calls_to_iam(eng, kms, backend):
    make_role(eng, "DataRole", ["kms:*"])
    key = kms.create_key(Policy=key_policy())["KeyMetadata"]
    call = Call("kms", "DescribeKey", session("DataRole"))
    d = backend.authorize_call(call, {"KeyId": key["KeyId"]})
    assert not d.allowed and d.reason == "no resource-based policy allows"
    admin = Call("kms", "DescribeKey", f"arn:aws:iam::{ACCOUNT}:user/admin")
    assert backend.authorize_call(admin, {"KeyId": key["KeyId"]}).allowed
    assert backend.authorize_call(Call("kms", "ListKeys", session("DataRole")), {}) is None
    assert backend.authorize_call(session("DataRole"), "kms:DescribeKey", "*", {"KeyId": key["KeyId"]}, {}) == d
    assert backend.key_arn_for("DescribeKey", {"KeyId": key["KeyId"]}) == key["Arn"]


# -- what keys cost ------------------------------------------------------------------------------------------------------
def _amount(eng, arn: str, usage: str) -> Decimal:
    return sum((li.amount for li in eng.bill() if li.resource_arn == arn and li.usage_type == usage), Decimal(0))


def test_customer_managed_key_costs_a_dollar_a_month(eng, key):
    eng.advance(730 * 3600)
    assert abs(_amount(eng, key["Arn"], "kms-key-seconds") - Decimal("1.00")) < Decimal("0.001")


def test_aws_managed_key_has_no_monthly_fee(eng, backend):
    arn = backend.aws_managed_key("alias/aws/sagemaker").arn
    eng.advance(730 * 3600)
    assert _amount(eng, arn, "kms-key-seconds") == 0


def test_ten_thousand_requests_cost_three_cents(eng, backend, key):
    make_role(eng, "DataRole", ["kms:GenerateDataKey"])
    for _ in range(10_000):
        backend.use(session("DataRole"), key["Arn"], "kms:GenerateDataKey", via_service="s3")
    lines = [li for li in eng.bill() if li.usage_type == "kms-requests" and li.resource_arn == key["Arn"]]
    assert len(lines) == 1 and lines[0].quantity == 10_000 and lines[0].amount == Decimal("0.03")


def test_denied_and_metadata_calls_are_not_billed_as_requests(eng, kms, backend, key):
    backend.use(session("Nobody"), key["Arn"], "kms:Decrypt")
    kms.describe_key(KeyId=key["KeyId"])
    assert _amount(eng, key["Arn"], "kms-requests") == 0


def test_key_pending_deletion_is_not_charged_unless_the_deletion_is_cancelled(eng, kms, key):
    day = Decimal("1.00") / 730 * 24
    eng.advance(86400)
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    eng.advance(2 * 86400)
    assert abs(_amount(eng, key["Arn"], "kms-key-seconds") - day) < Decimal("0.0001")
    kms.cancel_key_deletion(KeyId=key["KeyId"])
    eng.advance(86400)
    assert abs(_amount(eng, key["Arn"], "kms-key-seconds") - 4 * day) < Decimal("0.0001")
