import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django_otp.oath import totp
from django_q.models import Task

from incidents import services
from incidents.choices import ChangeSource
from incidents.models import Service, Team
from itsm import services as itsm_services


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password("pw-for-tests-only")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        """Fails loudly when a role group is missing (a transactional test without
        serialized_rollback empties the database, groups from the data migration included)."""
        if create and extracted:
            groups = list(Group.objects.filter(name__in=extracted))
            missing = set(extracted) - {group.name for group in groups}
            if missing:
                raise LookupError(f"No role group {', '.join(sorted(missing))}.")
            self.groups.add(*groups)


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"team-{n}")
    name = factory.LazyAttribute(lambda t: t.slug.replace("-", " ").title())


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"service-{n}")
    name = factory.LazyAttribute(lambda s: s.slug.replace("-", " ").title())
    user_count = 10


def make_incident(*, actor=None, source=ChangeSource.CLI, **kwargs):
    """An incident created through the service, as the product creates them."""
    kwargs.setdefault("title", "Checkout returns 500")
    if "priority" not in kwargs:
        kwargs.setdefault("impact", 2)
        kwargs.setdefault("urgency", 2)
    return services.incident_create(actor=actor, source=source, **kwargs)


def totp_code(device) -> str:
    """The code `device`'s authenticator app shows now (time-machine moves "now")."""
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def enrol_two_factor(user):
    """Turn two-factor authentication on for `user`, as the enrolment page does; the device
    and the recovery codes. Its first code is used: the next one comes 30 s later."""
    device = itsm_services.two_factor_enrol_start(user=user)
    return itsm_services.two_factor_confirm(user=user, code=totp_code(device))


def make_task_result(name: str, stopped, *, success: bool = True) -> Task:
    """A django-q2 task result (a success or a failure) that ran at `stopped`."""
    return Task.objects.create(
        id=name, name=name, func="math.floor", started=stopped, stopped=stopped, success=success
    )
