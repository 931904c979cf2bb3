"""Demo customers for `make run` (after `seed_demo` sends `demo_seeded`): two contracts on the
demo's services, customers since three months ago, and their statements of the months the job
covers, computed as the job computes them."""

from datetime import timedelta
from decimal import Decimal

from django.dispatch import receiver
from django.utils import timezone

from incidents.models import Service
from incidents.signals import demo_seeded
from postmortems.credits.computation import Tier
from postmortems.credits.services import customer_create
from postmortems.credits.tasks import freeze_credit_statements
from postmortems.models import Customer

DEMO_CUSTOMERS = {
    "Northwind Retail": (["web-storefront", "checkout", "payments-gateway"], "99.95", "12000.00"),
    "Contoso Health": (["identity-sso", "search"], "99.9", "8000.00"),
}
TIERS = [
    Tier(Decimal("99.95"), Decimal("10")),
    Tier(Decimal("99.5"), Decimal("25")),
    Tier(Decimal("99.0"), Decimal("50")),
]


@receiver(demo_seeded, dispatch_uid="postmortems.credits.demo_seeded")
def seed_demo_customers(sender, **kwargs):
    since = timezone.now() - timedelta(days=100)
    for name, (slugs, target, fee) in DEMO_CUSTOMERS.items():
        if Customer.objects.filter(name=name).exists():
            continue
        target = Decimal(target)
        customer = customer_create(
            actor=None,
            name=name,
            services=list(Service.objects.filter(slug__in=slugs)),
            availability_target=target,
            tiers=[tier for tier in TIERS if tier.below <= target],
            monthly_fee=Decimal(fee),
        )
        Customer.objects.filter(pk=customer.pk).update(created_at=since)
    freeze_credit_statements()
