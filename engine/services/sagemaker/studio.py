"""SageMaker Studio domains, user profiles and apps.

Statuses as AWS reports them, in virtual time: a domain and a user profile go Pending ->
InService (Deleting, then gone); an app goes Pending -> InService -> Deleting -> Deleted, and a
Deleted app stays listed and describable, as AWS keeps it. A running app is a standing resource:
no busy token, and a meter per instance-second at the Studio rate from InService until DeleteApp.
A JupyterServer app runs on ``system`` and costs nothing; a KernelGateway app runs on its
``ResourceSpec.InstanceType`` (``system`` means ml.t3.medium for it) and bills until deleted,
which is why "shut down idle Studio apps" matters. See docs/notebooks-and-studio.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from engine import timing
from engine.errors import ServiceError, validation
from engine.pricing import hourly_price, instance_spec
from engine.services.sagemaker import listing

SYSTEM = "system"
#: What ``system`` means for a KernelGateway app, and its default instance type.
KERNEL_GATEWAY_DEFAULT = "ml.t3.medium"
APP_TYPES = ("JupyterServer", "KernelGateway")
DOMAIN_SECONDS = (180, 300)  # EFS volume, security groups, the Studio URL: drawn per domain
PROFILE_SECONDS = 15
JUPYTER_SERVER_SECONDS = 60
IMAGE_SECONDS = 60  # a KernelGateway app pulls its image after its instance launches
APP_DELETE_SECONDS = 60
DOMAIN_DELETE_SECONDS = 60
PROFILE_DELETE_SECONDS = 15


def _not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFound", message)


def _in_use(message: str) -> ServiceError:
    return ServiceError("ResourceInUse", message)


@dataclass
class Domain:
    id: str
    name: str
    arn: str
    request: dict[str, Any]
    created: float
    status: str = "Pending"
    last_modified: float = 0.0
    efs: str = ""

    @property
    def url(self) -> str:
        return f"https://{self.id}.studio.us-east-1.sagemaker.aws"


@dataclass
class UserProfile:
    domain: str
    name: str
    arn: str
    request: dict[str, Any]
    created: float
    uid: str
    status: str = "Pending"
    last_modified: float = 0.0


@dataclass
class App:
    domain: str
    profile: str
    type: str
    name: str
    arn: str
    instance_type: str  # as requested (may be "system")
    created: float
    status: str = "Pending"
    meter: int | None = None
    failure: str | None = None
    in_service: float | None = None

    @property
    def billed_type(self) -> str | None:
        """The instance type billed while InService (None: free)."""
        if self.type == "JupyterServer":
            return None
        return KERNEL_GATEWAY_DEFAULT if self.instance_type == SYSTEM else self.instance_type


class Studio:
    def __init__(self, world):
        self.world = world
        self.domains: dict[str, Domain] = {}
        self.profiles: dict[tuple[str, str], UserProfile] = {}
        self.apps: dict[tuple[str, str, str, str], App] = {}  # (domain, profile, type, name)
        self._made = 0

    @property
    def clock(self):
        return self.world.clock

    def _set(self, obj, status: str, message: str) -> None:
        obj.status = status
        if hasattr(obj, "last_modified"):
            obj.last_modified = self.clock.seconds
        self.world.event(obj.arn, "status", message, status)

    def _later(self, seconds: float, fn):
        yield self.clock.env.timeout(seconds)
        fn()

    # -- domains ----------------------------------------------------------------------------
    def _domain(self, domain_id: str) -> Domain:
        d = self.domains.get(domain_id)
        if d is None:
            raise _not_found(f"Domain '{self.world.arn('sagemaker', 'domain/' + domain_id)}' does not exist.")
        return d

    def _check_role(self, role: str | None) -> None:
        if role and not self.world.services["iam"].can_assume(role):
            raise validation(f"Could not assume role {role}. Please ensure that the role exists and allows principal "
                             "'sagemaker.amazonaws.com' to assume the role.")

    def create_domain(self, req: dict, call) -> dict:
        if not req.get("VpcId") or not req.get("SubnetIds"):
            raise validation("VpcId and SubnetIds are required: the domain's EFS volume is reached through the "
                             "subnets of the VPC.")
        if req.get("AppNetworkAccessType") == "VpcOnly" and not req.get("SubnetIds"):
            raise validation("SubnetIds are required for AppNetworkAccessType VpcOnly.")
        self._check_role(req["DefaultUserSettings"].get("ExecutionRole"))
        self._made += 1
        digest = hashlib.sha256(f"{self.world.seed}|domain|{self._made}|{req['DomainName']}".encode()).hexdigest()
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        domain_id = "d-" + "".join(alphabet[int(digest[i:i + 2], 16) % 36] for i in range(0, 24, 2))
        arn = self.world.arn("sagemaker", f"domain/{domain_id}")
        d = Domain(domain_id, req["DomainName"], arn, dict(req), self.clock.seconds, last_modified=self.clock.seconds,
                   efs="fs-" + digest[24:41])
        self.domains[domain_id] = d
        self._record_reach(d)
        self.world.event(arn, "status", f"Creating Studio domain {d.name} ({domain_id})", "Pending")
        lo, hi = DOMAIN_SECONDS
        u = self.world.spot.draw("studio", domain_id, 1, "domain")
        self.clock.start(self._later(round(lo + (hi - lo) * u),
                                     lambda: d.status == "Pending" and self._set(d, "InService",
                                                                                 "Studio domain InService")))
        return {"DomainArn": arn, "DomainId": domain_id, "Url": d.url}

    def _record_reach(self, d) -> None:
        """Where the domain's apps can reach: PublicInternetOnly goes out through SageMaker's network;
        VpcOnly takes the subnets' routes (a NAT gateway, VPC endpoints, or nothing)."""
        from engine import network
        from engine.services.sagemaker import access

        ec2 = self.world.services["ec2"]
        if d.request.get("AppNetworkAccessType") != "VpcOnly":
            access.record_reach(self.world, d.arn, None, public="AppNetworkAccessType PublicInternetOnly: "
                                                                "SageMaker's network gives the apps internet access")
            return
        subnets = [s for s in d.request.get("SubnetIds", []) if s in ec2.subnets]
        groups = d.request.get("DefaultUserSettings", {}).get("SecurityGroups") or (
            [ec2.default_security_group(ec2.subnet_vpc(subnets[0]))] if subnets else [])
        try:
            place = network.place(ec2, subnets, groups) if subnets else None
        except network.PlacementError:
            place = None
        if place is not None:
            access.record_reach(self.world, d.arn, place, public=None)

    def describe_domain(self, req: dict, call) -> dict:
        d = self._domain(req["DomainId"])
        r = d.request
        out = {"DomainArn": d.arn, "DomainId": d.id, "DomainName": d.name, "HomeEfsFileSystemId": d.efs,
               "Status": d.status, "CreationTime": self.clock.at(d.created),
               "LastModifiedTime": self.clock.at(d.last_modified), "AuthMode": r["AuthMode"],
               "DefaultUserSettings": r["DefaultUserSettings"],
               "AppNetworkAccessType": r.get("AppNetworkAccessType", "PublicInternetOnly"),
               "SubnetIds": r.get("SubnetIds", []), "Url": d.url, "VpcId": r.get("VpcId", ""),
               "AppSecurityGroupManagement": r.get("AppSecurityGroupManagement", "Service"),
               "TagPropagation": r.get("TagPropagation", "DISABLED")}
        for key in ("DomainSettings", "KmsKeyId", "DefaultSpaceSettings"):
            if key in r:
                out[key] = r[key]
        return out

    def list_domains(self, req: dict, call) -> dict:
        items = sorted(self.domains.values(), key=lambda d: (d.created, d.id))
        page, more = listing.page(items, req)
        out: dict[str, Any] = {"Domains": [
            {"DomainArn": d.arn, "DomainId": d.id, "DomainName": d.name, "Status": d.status,
             "CreationTime": self.clock.at(d.created), "LastModifiedTime": self.clock.at(d.last_modified),
             "Url": d.url} for d in page]}
        out.update(more)
        return out

    def delete_domain(self, req: dict, call) -> dict:
        d = self._domain(req["DomainId"])
        if d.status in ("Pending", "Deleting", "Updating"):
            raise _in_use(f"Domain {d.id} is in status {d.status} and cannot be deleted now.")
        users = [p.name for p in self.profiles.values() if p.domain == d.id]
        if users:
            raise _in_use(f"Domain {d.id} has user profiles ({', '.join(sorted(users))}); delete every user profile "
                          "(and its apps) before deleting the domain.")
        self._set(d, "Deleting", "Deleting Studio domain")
        self.clock.start(self._later(DOMAIN_DELETE_SECONDS, lambda: self.domains.pop(d.id, None)))
        return {}

    # -- user profiles ------------------------------------------------------------------------------
    def _profile(self, domain_id: str, name: str) -> UserProfile:
        p = self.profiles.get((domain_id, name))
        if p is None:
            raise _not_found(f"User profile '{self.world.arn('sagemaker', f'user-profile/{domain_id}/{name}')}' "
                             "does not exist.")
        return p

    def create_user_profile(self, req: dict, call) -> dict:
        d = self._domain(req["DomainId"])
        name = req["UserProfileName"]
        arn = self.world.arn("sagemaker", f"user-profile/{d.id}/{name.lower()}")
        if (d.id, name) in self.profiles:
            raise _in_use(f"User profile {arn} already exists.")
        if d.status != "InService":
            raise _in_use(f"Domain {d.id} is in status {d.status}: user profiles can be created once it is "
                          "InService.")
        self._check_role(req.get("UserSettings", {}).get("ExecutionRole"))
        uid = str(200000 + 1 + sum(1 for p in self.profiles.values() if p.domain == d.id))
        p = UserProfile(d.id, name, arn, dict(req), self.clock.seconds, uid, last_modified=self.clock.seconds)
        self.profiles[(d.id, name)] = p
        self.world.event(arn, "status", f"Creating user profile {name} in {d.id}", "Pending")
        self.clock.start(self._later(PROFILE_SECONDS, lambda: p.status == "Pending" and self._set(
            p, "InService", "User profile InService")))
        return {"UserProfileArn": arn}

    def describe_user_profile(self, req: dict, call) -> dict:
        p = self._profile(req["DomainId"], req["UserProfileName"])
        out = {"DomainId": p.domain, "UserProfileArn": p.arn, "UserProfileName": p.name,
               "HomeEfsFileSystemUid": p.uid, "Status": p.status, "LastModifiedTime": self.clock.at(p.last_modified),
               "CreationTime": self.clock.at(p.created)}
        if "UserSettings" in p.request:
            out["UserSettings"] = p.request["UserSettings"]
        return out

    def list_user_profiles(self, req: dict, call) -> dict:
        items = list(self.profiles.values())
        if "DomainIdEquals" in req:
            items = [p for p in items if p.domain == req["DomainIdEquals"]]
        if "UserProfileNameContains" in req:
            items = [p for p in items if req["UserProfileNameContains"].lower() in p.name.lower()]
        keyf = {"CreationTime": lambda p: (p.created, p.name),
                "LastModifiedTime": lambda p: (p.last_modified, p.name)}[req.get("SortBy", "CreationTime")]
        items.sort(key=keyf, reverse=req.get("SortOrder", "Ascending") == "Descending")
        page, more = listing.page(items, req)
        out: dict[str, Any] = {"UserProfiles": [
            {"DomainId": p.domain, "UserProfileName": p.name, "Status": p.status,
             "CreationTime": self.clock.at(p.created), "LastModifiedTime": self.clock.at(p.last_modified)}
            for p in page]}
        out.update(more)
        return out

    def delete_user_profile(self, req: dict, call) -> dict:
        p = self._profile(req["DomainId"], req["UserProfileName"])
        if p.status in ("Pending", "Deleting"):
            raise _in_use(f"User profile {p.arn} is in status {p.status} and cannot be deleted now.")
        live = [a for a in self.apps.values() if a.domain == p.domain and a.profile == p.name
                and a.status != "Deleted"]
        if live:
            raise _in_use(f"User profile {p.arn} has apps that are not deleted ("
                          + ", ".join(f"{a.type}/{a.name}: {a.status}" for a in live)
                          + "); delete them before deleting the user profile.")
        self._set(p, "Deleting", "Deleting user profile")

        def gone():
            self.profiles.pop((p.domain, p.name), None)
            for key in [k for k, a in self.apps.items() if a.domain == p.domain and a.profile == p.name]:
                self.apps.pop(key)

        self.clock.start(self._later(PROFILE_DELETE_SECONDS, gone))
        return {}

    # -- apps -------------------------------------------------------------------------------------
    def _who(self, req: dict) -> UserProfile:
        if req.get("SpaceName"):
            raise validation("Studio spaces are not simulated; give a UserProfileName.")
        if not req.get("UserProfileName"):
            raise validation("Either UserProfileName or SpaceName must be specified.")
        self._domain(req["DomainId"])
        return self._profile(req["DomainId"], req["UserProfileName"])

    def _app(self, req: dict) -> App:
        p = self._who(req)
        a = self.apps.get((p.domain, p.name, req["AppType"], req["AppName"]))
        if a is None:
            arn = self.world.arn("sagemaker", f"app/{p.domain}/{p.name.lower()}/{req['AppType'].lower()}/"
                                              f"{req['AppName'].lower()}")
            raise _not_found(f"App '{arn}' does not exist.")
        return a

    def _default_type(self, p: UserProfile, app_type: str) -> str:
        if app_type == "JupyterServer":
            return SYSTEM
        for settings in (p.request.get("UserSettings", {}),
                         self.domains[p.domain].request.get("DefaultUserSettings", {})):
            spec = settings.get("KernelGatewayAppSettings", {}).get("DefaultResourceSpec", {})
            if spec.get("InstanceType"):
                return spec["InstanceType"]
        return KERNEL_GATEWAY_DEFAULT

    def create_app(self, req: dict, call) -> dict:
        p = self._who(req)
        app_type, name = req["AppType"], req["AppName"]
        if app_type not in APP_TYPES:
            raise validation(f"SageTutor simulates {' and '.join(APP_TYPES)} apps; AppType {app_type} is not "
                             "simulated.")
        key = (p.domain, p.name, app_type, name)
        arn = self.world.arn("sagemaker", f"app/{p.domain}/{p.name.lower()}/{app_type.lower()}/{name.lower()}")
        old = self.apps.get(key)
        if old is not None and old.status != "Deleted":
            raise _in_use(f"App {arn} already exists with status {old.status}.")
        if p.status != "InService":
            raise _in_use(f"User profile {p.arn} is in status {p.status}: apps can be created once it is InService.")
        instance_type = req.get("ResourceSpec", {}).get("InstanceType") or self._default_type(p, app_type)
        if app_type == "JupyterServer" and instance_type != SYSTEM:
            raise validation(f"Invalid InstanceType {instance_type} for a JupyterServer app: JupyterServer apps only "
                             "support the system value.")
        a = App(p.domain, p.name, app_type, name, arn, instance_type, self.clock.seconds)
        if a.billed_type is not None:
            try:
                hourly_price("studio", a.billed_type)
                instance_spec(a.billed_type)
            except KeyError:
                raise validation(f"Instance type {a.billed_type} is not supported for Studio apps.") from None
        self.apps[key] = a
        self.world.event(arn, "status", f"Creating {app_type} app {name} on {instance_type}", "Pending")
        if a.billed_type is None:
            seconds = float(JUPYTER_SERVER_SECONDS)
        else:
            n = sum(1 for x in self.apps.values() if x.domain == p.domain and x.profile == p.name)
            u = self.world.spot.draw(a.billed_type, f"{p.domain}/{p.name}/{name}", n, "studio-app")
            seconds = timing.provision_seconds(instance_spec(a.billed_type), u) + IMAGE_SECONDS
        self.clock.start(self._later(seconds, lambda: self._in_service(a)))
        return {"AppArn": arn}

    def _in_service(self, a: App) -> None:
        if a.status != "Pending":
            return
        a.in_service = self.clock.seconds
        if a.billed_type is None:
            self._set(a, "InService", f"{a.type} app InService on system (no charge)")
            return
        price = hourly_price("studio", a.billed_type)
        a.meter = self.world.ledger.start_meter(a.arn, "sagemaker", "studio-app-instance-seconds", price.usd,
                                                "on-demand", a.billed_type, 1,
                                                f"{a.type} app {a.name} on {a.billed_type} while InService, used "
                                                "or idle")
        self._set(a, "InService", f"{a.type} app InService on {a.billed_type} (billing per instance-second until "
                                  "DeleteApp, used or idle)")

    def describe_app(self, req: dict, call) -> dict:
        a = self._app(req)
        out = {"AppArn": a.arn, "AppType": a.type, "AppName": a.name, "DomainId": a.domain,
               "UserProfileName": a.profile, "Status": a.status, "CreationTime": self.clock.at(a.created),
               "ResourceSpec": {"InstanceType": a.instance_type}}
        if a.in_service is not None:
            out["LastHealthCheckTimestamp"] = self.clock.at(self.clock.seconds if a.status == "InService"
                                                            else a.in_service)
            out["LastUserActivityTimestamp"] = self.clock.at(a.in_service)
        if a.failure:
            out["FailureReason"] = a.failure
        return out

    def list_apps(self, req: dict, call) -> dict:
        items = list(self.apps.values())
        if "DomainIdEquals" in req:
            items = [a for a in items if a.domain == req["DomainIdEquals"]]
        if "UserProfileNameEquals" in req:
            items = [a for a in items if a.profile == req["UserProfileNameEquals"]]
        if req.get("SpaceNameEquals"):
            items = []
        items.sort(key=lambda a: (a.created, a.arn), reverse=req.get("SortOrder", "Ascending") == "Descending")
        page, more = listing.page(items, req)
        out: dict[str, Any] = {"Apps": [
            {"DomainId": a.domain, "UserProfileName": a.profile, "AppType": a.type, "AppName": a.name,
             "Status": a.status, "CreationTime": self.clock.at(a.created),
             "ResourceSpec": {"InstanceType": a.instance_type}} for a in page]}
        out.update(more)
        return out

    def delete_app(self, req: dict, call) -> dict:
        a = self._app(req)
        if a.status in ("Deleting", "Deleted"):
            raise _in_use(f"App {a.arn} is already {a.status}.")
        if a.meter is not None:
            self.world.ledger.stop_meter(a.meter)  # billing stops when the app is shut down
            a.meter = None
        self._set(a, "Deleting", f"Deleting {a.type} app {a.name} (billing stops)")

        def deleted():
            if a.status == "Deleting":
                self._set(a, "Deleted", f"{a.type} app {a.name} Deleted")

        self.clock.start(self._later(APP_DELETE_SECONDS, deleted))
        return {}

