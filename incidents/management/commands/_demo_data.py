"""What the demo seed tells: the people, teams and services of a small online shop, and the
incidents that happen to them. Only data; seed_demo plays it through incidents.services."""

from typing import NamedTuple

from incidents.choices import IncidentSource, ResolutionCode, ServiceTier
from itsm.roles import Role

# --- the directory: people, teams, services ----------------------------------------------------


class DemoUser(NamedTuple):
    username: str
    first_name: str
    last_name: str
    role: Role
    is_staff: bool = False
    is_superuser: bool = False


USERS = (
    DemoUser("responder", "Riley", "Rivera", Role.RESPONDER),
    DemoUser("manager", "Morgan", "Lee", Role.ITSM_MANAGER, is_staff=True),
    DemoUser("admin", "Avery", "Stone", Role.SUPER_ADMIN, is_staff=True, is_superuser=True),
    DemoUser("stakeholder", "Sasha", "Patel", Role.STAKEHOLDER),
    DemoUser("priya", "Priya", "Nair", Role.RESPONDER),
    DemoUser("chen", "Wei", "Chen", Role.RESPONDER),
    DemoUser("tomas", "Tomás", "Berg", Role.RESPONDER),
    DemoUser("fatima", "Fatima", "Okafor", Role.RESPONDER),
    DemoUser("jonas", "Jonas", "Weber", Role.RESPONDER),
)
LOGINS = USERS[:4]  # one per role; printed at the end
SERVICE_DESK_USER = "fatima"
MANAGER_USER = "manager"


class DemoTeam(NamedTuple):
    slug: str
    name: str
    description: str
    members: tuple[str, ...]


TEAMS = (
    DemoTeam(
        "platform",
        "Platform",
        "Databases, networking, VPN, email and the public web tier.",
        ("responder", "jonas"),
    ),
    DemoTeam(
        "payments", "Payments", "Checkout, the payments gateway, refunds.", ("chen", "responder")
    ),
    DemoTeam("identity", "Identity", "Single sign-on, the directory and MFA.", ("priya", "jonas")),
    DemoTeam("data", "Data", "Search, the data warehouse and its pipelines.", ("tomas", "chen")),
    DemoTeam(
        "service-desk",
        "Service Desk",
        "First line: calls and emails; runs the internal tools.",
        ("fatima", "responder"),
    ),
)


class DemoService(NamedTuple):
    slug: str
    name: str
    tier: ServiceTier
    team: str
    user_count: int
    depends_on: tuple[str, ...]
    description: str


T1, T2, T3, T4 = ServiceTier.TIER_1, ServiceTier.TIER_2, ServiceTier.TIER_3, ServiceTier.TIER_4

# Listed so that every service comes after the services it depends on.
# fmt: off
SERVICES = (
    DemoService("postgres-primary", "PostgreSQL primary", T1, "platform", 40,
                (),
                "The main OLTP cluster (primary and two streaming replicas)."),
    DemoService("email-relay", "Email relay", T2, "platform", 0,
                (),
                "Outbound SMTP relay for transactional and internal mail."),
    DemoService("identity-sso", "Identity / SSO", T1, "identity", 4200,
                ("postgres-primary",),
                "SAML and OIDC single sign-on for staff applications, with MFA."),
    DemoService("payments-gateway", "Payments gateway", T1, "payments", 0,
                ("postgres-primary",),
                "Card authorisation, 3-D Secure, refunds and settlement with two acquirers."),
    DemoService("search", "Search", T2, "data", 0,
                ("postgres-primary",),
                "Product search and facets, indexed from the primary database."),
    DemoService("checkout", "Checkout", T1, "payments", 25000,
                ("payments-gateway", "postgres-primary", "email-relay"),
                "Basket, checkout and order confirmation."),
    DemoService("web-storefront", "Web storefront", T1, "platform", 60000,
                ("checkout", "search", "identity-sso"),
                "The public shop at www.example.com."),
    DemoService("mobile-api", "Mobile API", T1, "platform", 18000,
                ("checkout", "search", "identity-sso"),
                "Backend for the iOS and Android apps."),
    DemoService("data-warehouse", "Data warehouse", T3, "data", 150,
                ("postgres-primary",),
                "Nightly ETL and the finance and marketing dashboards."),
    DemoService("vpn", "Corporate VPN", T2, "platform", 1800,
                ("identity-sso",),
                "Remote access for staff; MFA through SSO."),
    DemoService("hr-portal", "HR portal", T3, "service-desk", 2300,
                ("identity-sso", "email-relay"),
                "Payslips, leave requests and approvals."),
    DemoService("internal-wiki", "Internal wiki", T4, "service-desk", 2100,
                ("identity-sso",),
                "Runbooks, the knowledge base and team spaces."),
)
# fmt: on
SERVICE_TEAM = {s.slug: s.team for s in SERVICES}

# On-call: two weekly rotations of the responders (secondary one turn ahead of primary), and
# who each level of the default escalation ladder pages.
ONCALL_ROTATION = ("responder", "priya", "chen", "tomas", "jonas")
ONCALL_SCHEDULES = {
    "primary-on-call": ("Primary on-call", ONCALL_ROTATION),
    "secondary-on-call": ("Secondary on-call", (*ONCALL_ROTATION[1:], ONCALL_ROTATION[0])),
}
LADDER_SCHEDULES = {1: "primary-on-call", 2: "secondary-on-call"}
LADDER_USERS = {3: MANAGER_USER, 4: "admin", 5: "admin"}


# --- what goes wrong -----------------------------------------------------------------------------


class Scenario(NamedTuple):
    services: tuple[str, ...]
    title: str
    description: str
    impact: int
    urgency: int
    source: IncidentSource
    affected_users: int
    finding: str
    mitigation: str
    resolution_code: ResolutionCode
    resolution_notes: str
    related_change: str = ""


ALERT = IncidentSource.ALERT
CUSTOMER = IncidentSource.CUSTOMER_REPORT
EMAIL = IncidentSource.EMAIL
PORTAL = IncidentSource.PORTAL
R = ResolutionCode

# fmt: off
SCENARIOS = (
    Scenario(
        services=("checkout", "payments-gateway"),
        impact=1, urgency=1, source=ALERT, affected_users=3200,
        resolution_code=R.THIRD_PARTY,
        title="Checkout returns 502 for card payments",
        description="Customers see 'Payment could not be processed' on the last checkout step. The"
                    " error rate of /api/checkout/pay rose from 0.2% to 38%.",
        finding="The gateway client times out after 5 s; the primary acquirer reports degraded "
                "authorisation in EU-West.",
        mitigation="Card traffic routed to the secondary acquirer; error rate back under 1%.",
        resolution_notes="The acquirer fixed its authorisation cluster; traffic moved back after "
                         "30 minutes of clean metrics.",
    ),
    Scenario(
        services=("identity-sso",),
        impact=2, urgency=1, source=CUSTOMER, affected_users=450,
        resolution_code=R.ROLLBACK, related_change="CHG0003981",
        title="SSO login loop for users with expired sessions",
        description="Users whose session expired bounce between the login page and the identity "
                    "provider until the browser gives up. Several departments called the service "
                    "desk.",
        finding="Release 2.14 changed the session cookie's SameSite attribute; Safari drops the "
                "cookie on the redirect back from the identity provider.",
        mitigation="Workaround published: clear cookies for sso.example.org. The service desk has "
                   "a macro.",
        resolution_notes="Session middleware rolled back to 2.13; the loop no longer reproduces.",
    ),
    Scenario(
        services=("postgres-primary",),
        impact=2, urgency=2, source=ALERT, affected_users=120,
        resolution_code=R.CONFIGURATION,
        title="Replication lag on postgres-primary replicas above 15 minutes",
        description="The read replicas behind search indexing and the warehouse fall behind; the "
                    "lag alert fired at 900 s.",
        finding="A nightly VACUUM FULL on orders_archive holds a lock that stalls WAL replay.",
        mitigation="VACUUM FULL cancelled; the replicas are catching up at about 40 s per minute.",
        resolution_notes="The maintenance job uses pg_repack instead and runs outside the "
                         "replication window.",
    ),
    Scenario(
        services=("postgres-primary", "checkout"),
        impact=1, urgency=1, source=ALERT, affected_users=6000,
        resolution_code=R.FIXED,
        title="Primary database connection pool exhausted",
        description="Checkout and the mobile API log 'connection pool exhausted' and time out; "
                    "active connections sit at max_connections (500).",
        finding="A new scheduled report runs an unindexed query for 40 s or more per call and "
                "holds connections.",
        mitigation="Long-running queries killed and the report's schedule disabled.",
        resolution_notes="Index added on orders(created_at, status); the query takes 30 ms. Report"
                         " re-enabled.",
    ),
    Scenario(
        services=("web-storefront",),
        impact=2, urgency=2, source=CUSTOMER, affected_users=900,
        resolution_code=R.CONFIGURATION,
        title="Product images missing on the storefront",
        description="About a third of product pages render without images; the CDN answers 403 for"
                    " image URLs.",
        finding="The CDN signing key was rotated, but two of six storefront nodes still sign with "
                "the old key.",
        mitigation="The two stale nodes restarted and picked up the new key.",
        resolution_notes="Key rotation now triggers a rolling restart from the deploy pipeline.",
    ),
    Scenario(
        services=("mobile-api",),
        impact=2, urgency=1, source=CUSTOMER, affected_users=1400,
        resolution_code=R.CONFIGURATION,
        title="Mobile app login fails on Android 14",
        description="Android 14 users get 'Something went wrong' after entering their password; "
                    "iOS is not affected.",
        finding="Android 14 rejects the legacy intermediate certificate served on api.example.com.",
        mitigation="The load balancer now serves the full certificate chain.",
        resolution_notes="Certificate bundle updated on every load balancer; the expiry check now "
                         "validates chains too.",
    ),
    Scenario(
        services=("search",),
        impact=3, urgency=2, source=PORTAL, affected_users=200,
        resolution_code=R.FIXED,
        title="Search returns no results for queries with accents",
        description="Searching for 'café' or 'Müller' returns an empty list; plain ASCII queries "
                    "work.",
        finding="The new analyzer configuration dropped the ASCII folding filter.",
        mitigation="The index alias points back at yesterday's index.",
        resolution_notes="Folding filter restored and the catalogue reindexed (41 minutes).",
    ),
    Scenario(
        services=("email-relay",),
        impact=2, urgency=2, source=CUSTOMER, affected_users=2500,
        resolution_code=R.FIXED,
        title="Order confirmation emails delayed by up to 2 hours",
        description="Customers report late order confirmations; the relay's outbound queue holds "
                    "48,000 messages.",
        finding="A large mailbox provider throttles our sending IP after this morning's marketing "
                "campaign.",
        mitigation="Transactional mail moved to the dedicated IP pool; the queue is draining.",
        resolution_notes="Marketing mail has its own IP pool and rate limit; the transactional "
                         "queue stays under 100 messages.",
    ),
    Scenario(
        services=("vpn",),
        impact=2, urgency=2, source=EMAIL, affected_users=380,
        resolution_code=R.CONFIGURATION, related_change="CHG0004120",
        title="VPN disconnects every 10 minutes for remote staff",
        description="Remote employees are disconnected from the VPN roughly every ten minutes "
                    "since this morning.",
        finding="The new firewall policy lowered the UDP idle timeout to 600 s; the client "
                "keepalive is 900 s.",
        mitigation="Users told to switch the client to TCP mode (knowledge base article KB0142).",
        resolution_notes="UDP idle timeout raised to 3600 s on both firewalls.",
    ),
    Scenario(
        services=("hr-portal",),
        impact=3, urgency=2, source=PORTAL, affected_users=120,
        resolution_code=R.CAPACITY,
        title="HR portal payslip download times out",
        description="Employees get a gateway timeout when downloading last month's payslip.",
        finding="PDFs are rendered synchronously; the month-end rush saturates both workers.",
        mitigation="PDF workers scaled from 2 to 6.",
        resolution_notes="Workers now scale on queue depth; month-end load tested.",
    ),
    Scenario(
        services=("internal-wiki",),
        impact=3, urgency=3, source=PORTAL, affected_users=60,
        resolution_code=R.FIXED,
        title="Wiki search index stale since Friday",
        description="New and edited wiki pages do not appear in search results.",
        finding="The index rebuild job fails since the OS upgrade: the Java runtime is missing.",
        mitigation="Index rebuilt by hand.",
        resolution_notes="Runtime added to the image; the job now alerts when it fails.",
    ),
    Scenario(
        services=("data-warehouse",),
        impact=3, urgency=2, source=ALERT, affected_users=85,
        resolution_code=R.FIXED,
        title="Nightly ETL to the data warehouse failed",
        description="The 02:00 load did not complete; finance dashboards show zero revenue for "
                    "yesterday.",
        finding="An upstream schema change renamed orders.discount_code without notice.",
        mitigation="Dashboards show the last complete day, with a banner.",
        resolution_notes="ETL mapping updated and yesterday backfilled; dashboards are correct.",
    ),
    Scenario(
        services=("payments-gateway",),
        impact=2, urgency=2, source=CUSTOMER, affected_users=310,
        resolution_code=R.FIXED,
        title="Refunds stuck in 'pending'",
        description="Refunds issued since 09:00 stay pending; customer service is getting chasers.",
        finding="The refund consumer crashed on a malformed webhook from the acquirer and was not "
                "restarted.",
        mitigation="Consumer restarted; the pending refunds are going through.",
        resolution_notes="Malformed webhooks go to a dead-letter queue instead of crashing the "
                         "consumer, and a supervisor restarts it.",
    ),
    Scenario(
        services=("identity-sso", "vpn", "hr-portal", "internal-wiki"),
        impact=1, urgency=1, source=ALERT, affected_users=3900,
        resolution_code=R.CONFIGURATION,
        title="SAML logins rejected: identity provider signing certificate expired",
        description="Every SAML application rejects logins with 'invalid signature'; OIDC "
                    "applications still work.",
        finding="The signing certificate expired at 00:00 UTC; the renewal reminder went to a "
                "former employee's mailbox.",
        mitigation="Pre-staged secondary certificate activated on the identity provider.",
        resolution_notes="New certificate uploaded to all 14 SAML service providers; expiry "
                         "monitoring now mails the team.",
    ),
    Scenario(
        services=("checkout",),
        impact=3, urgency=2, source=CUSTOMER, affected_users=150,
        resolution_code=R.FIXED,
        title="Valid discount codes rejected at checkout",
        description="Customers report current promotion codes as 'expired'.",
        finding="Promotion end dates are stored in local time but compared with UTC.",
        mitigation="Affected promotions extended by one day.",
        resolution_notes="Validity is compared in UTC; tests added for the day boundary.",
    ),
    Scenario(
        services=("mobile-api",),
        impact=2, urgency=2, source=ALERT, affected_users=2000,
        resolution_code=R.FIXED,
        title="Mobile API p99 latency above 4 s",
        description="The latency SLO alert fired; app users report that order history loads "
                    "slowly.",
        finding="Order history makes one query per order since the loyalty-points launch.",
        mitigation="Loyalty points hidden on order history with the feature flag.",
        resolution_notes="Queries batched; p99 is back at 350 ms with the feature on.",
    ),
    Scenario(
        services=("web-storefront", "search"),
        impact=1, urgency=2, source=ALERT, affected_users=5000,
        resolution_code=R.CAPACITY,
        title="Storefront category pages return 500",
        description="Every category page fails; product pages and checkout still work.",
        finding="A search node ran out of disk; category pages ask search for facets and do not "
                "handle the error.",
        mitigation="Old snapshot indices deleted to free disk; the pages render again.",
        resolution_notes="Disk added to every search node with an alert at 75%; the storefront now"
                         " drops facets instead of failing.",
    ),
    Scenario(
        services=("email-relay",),
        impact=2, urgency=1, source=CUSTOMER, affected_users=220,
        resolution_code=R.CONFIGURATION,
        title="Password reset emails not delivered",
        description="Customers and staff do not receive password reset emails.",
        finding="The SPF record lost the relay's new IP range during the DNS migration.",
        mitigation="Service desk agents send resets by SMS in the meantime.",
        resolution_notes="SPF record corrected; delivery confirmed to the four largest mailbox "
                         "providers.",
    ),
    Scenario(
        services=("postgres-primary",),
        impact=2, urgency=3, source=ALERT, affected_users=0,
        resolution_code=R.CONFIGURATION,
        title="Disk usage on postgres-primary at 92%",
        description="The disk alert fired on the primary's data volume.",
        finding="WAL archiving to object storage fails since the credentials were rotated, so WAL "
                "piles up locally.",
        mitigation="Archive credentials updated; archiving has caught up.",
        resolution_notes="Credentials come from the secrets manager and rotate automatically.",
    ),
    Scenario(
        services=("data-warehouse",),
        impact=3, urgency=3, source=EMAIL, affected_users=40,
        resolution_code=R.FIXED,
        title="Finance dashboard shows duplicate revenue rows",
        description="Yesterday's revenue is doubled on the finance dashboard.",
        finding="A retry of the 14:00 load appended to the partition instead of replacing it.",
        mitigation="Dashboard filtered to distinct transaction ids.",
        resolution_notes="The load job overwrites its partition, so a retry is harmless.",
    ),
    Scenario(
        services=("vpn", "identity-sso"),
        impact=2, urgency=1, source=EMAIL, affected_users=600,
        resolution_code=R.THIRD_PARTY,
        title="VPN MFA push notifications not arriving",
        description="Staff connecting to the VPN never get the MFA push, so they cannot log in.",
        finding="The MFA provider's push service is degraded in our region.",
        mitigation="One-time codes enabled as a fallback for VPN logins.",
        resolution_notes="The provider restored push delivery; the fallback stays available.",
    ),
    Scenario(
        services=("hr-portal",),
        impact=2, urgency=1, source=CUSTOMER, affected_users=3,
        resolution_code=R.FIXED,
        title="HR portal shows another employee's leave balance",
        description="An employee saw a colleague's leave balance on their own page; privacy "
                    "incident.",
        finding="The response cache is keyed on the URL only, so per-user pages were cached for 60"
                " s.",
        mitigation="Response cache disabled for /leave/.",
        resolution_notes="The cache varies on the session; the privacy team has the assessment.",
    ),
    Scenario(
        services=("internal-wiki",),
        impact=3, urgency=3, source=PORTAL, affected_users=25,
        resolution_code=R.CONFIGURATION,
        title="Wiki attachments over 10 MB fail to upload",
        description="Uploading a large attachment ends with 'Request Entity Too Large'.",
        finding="The reverse proxy's body size limit stayed at the 10 MB default after the "
                "migration.",
        mitigation="Large files shared through the file share meanwhile.",
        resolution_notes="Limit raised to 100 MB, matching the wiki's own setting.",
    ),
    Scenario(
        services=("checkout", "email-relay"),
        impact=3, urgency=3, source=CUSTOMER, affected_users=800,
        resolution_code=R.FIXED,
        title="Customers receive order confirmation emails twice",
        description="Each order confirmation arrives two or three times.",
        finding="The email task is retried on timeout although the first send succeeded.",
        mitigation="Retries paused for the confirmation task.",
        resolution_notes="Sends are idempotent per order number.",
    ),
    Scenario(
        services=("payments-gateway", "checkout"),
        impact=2, urgency=2, source=CUSTOMER, affected_users=700,
        resolution_code=R.CONFIGURATION,
        title="3-D Secure challenge page blank for some banks",
        description="Cardholders of three banks see an empty frame where the 3-D Secure challenge "
                    "should be.",
        finding="Our Content-Security-Policy blocks the issuers' new challenge domain.",
        mitigation="Domain added to the frame-src allowlist.",
        resolution_notes="The allowlist is built from the gateway's published issuer list.",
    ),
    Scenario(
        services=("search",),
        impact=3, urgency=2, source=ALERT, affected_users=0,
        resolution_code=R.FIXED, related_change="CHG0004233",
        title="Search indexing paused after cluster upgrade",
        description="New products have not appeared in search since the upgrade.",
        finding="The indexer's client library is incompatible with the upgraded cluster.",
        mitigation="Indexer pinned to the compatibility API.",
        resolution_notes="Client library upgraded; indexing lag back under a minute.",
    ),
    Scenario(
        services=("mobile-api",),
        impact=3, urgency=2, source=CUSTOMER, affected_users=1200,
        resolution_code=R.CONFIGURATION,
        title="No push notifications for shipped orders",
        description="App users are not told that their orders have shipped.",
        finding="The APNs authentication key expired.",
        mitigation="Shipping notifications sent by email instead.",
        resolution_notes="New key installed; its expiry is monitored.",
    ),
    Scenario(
        services=("identity-sso",),
        impact=3, urgency=1, source=EMAIL, affected_users=12,
        resolution_code=R.FIXED,
        title="New starters cannot log in on their first day",
        description="Twelve new starters have no account this morning.",
        finding="The HR-to-directory sync failed on Sunday night, so the accounts were never "
                "created.",
        mitigation="Service desk created the twelve accounts by hand.",
        resolution_notes="Sync job re-run; it now alerts on failure.",
    ),
    Scenario(
        services=("web-storefront",),
        impact=2, urgency=1, source=ALERT, affected_users=4000,
        resolution_code=R.FIXED,
        title="Storefront home page slow after campaign launch",
        description="Home page load time rose from 1.2 s to 9 s when the spring campaign went "
                    "live.",
        finding="The campaign banner is a 9 MB uncompressed image.",
        mitigation="Banner replaced with a compressed version and the CDN purged.",
        resolution_notes="The asset pipeline rejects images over 500 KB.",
    ),
    Scenario(
        services=("data-warehouse", "postgres-primary"),
        impact=3, urgency=2, source=ALERT, affected_users=0,
        resolution_code=R.CONFIGURATION,
        title="Warehouse sync saturating primary disk I/O",
        description="Primary database latency doubles while the warehouse sync runs.",
        finding="The sync reads from the primary instead of a replica since the last deploy.",
        mitigation="Sync paused until the evening.",
        resolution_notes="Sync points at the replica again; a check prevents the regression.",
    ),
    Scenario(
        services=("email-relay",),
        impact=3, urgency=3, source=ALERT, affected_users=0,
        resolution_code=R.CONFIGURATION,
        title="Email relay TLS certificate expires in 5 days",
        description="The certificate monitor warns that the relay's certificate expires soon.",
        finding="Automatic renewal fails: the DNS challenge record points at the old DNS provider.",
        mitigation="Certificate renewed by hand for 90 days.",
        resolution_notes="Renewal uses the new DNS provider's API.",
    ),
    Scenario(
        services=("vpn",),
        impact=2, urgency=2, source=EMAIL, affected_users=140,
        resolution_code=R.THIRD_PARTY,
        title="VPN gateway in the Berlin office unreachable",
        description="Berlin staff cannot reach internal systems.",
        finding="The office ISP reports a fibre cut near the building.",
        mitigation="Berlin traffic routed through the Frankfurt gateway over LTE backup.",
        resolution_notes="The ISP repaired the fibre; primary link back up.",
    ),
    Scenario(
        services=("checkout",),
        impact=3, urgency=3, source=CUSTOMER, affected_users=300,
        resolution_code=R.CONFIGURATION,
        title="Address autocomplete not working at checkout",
        description="The address field no longer suggests addresses; manual entry still works.",
        finding="The address lookup API's monthly quota is used up.",
        mitigation="Banner tells customers to type the address.",
        resolution_notes="Quota raised; usage alert at 80%.",
    ),
    Scenario(
        services=("hr-portal", "email-relay"),
        impact=3, urgency=2, source=EMAIL, affected_users=90,
        resolution_code=R.CONFIGURATION,
        title="Leave approval emails not sent to managers",
        description="Managers are not notified of leave requests waiting for approval.",
        finding="The HR portal's SMTP password expired.",
        mitigation="Service desk sends a daily list of pending requests to managers.",
        resolution_notes="The portal uses a service account without password expiry.",
    ),
    Scenario(
        services=("internal-wiki", "identity-sso"),
        impact=3, urgency=2, source=PORTAL, affected_users=350,
        resolution_code=R.CONFIGURATION,
        title="Wiki answers 403 for the Engineering space",
        description="Engineers cannot open any page in the Engineering space.",
        finding="The group mapping broke when the SSO group was renamed.",
        mitigation="Access granted through the old group name for now.",
        resolution_notes="Mapping updated to the group's id instead of its name.",
    ),
    Scenario(
        services=("payments-gateway",),
        impact=2, urgency=3, source=ALERT, affected_users=0,
        resolution_code=R.THIRD_PARTY,
        title="Settlement file not received from the acquirer",
        description="This morning's settlement file is missing; reconciliation cannot start.",
        finding="The acquirer changed its SFTP host key; our client refuses the connection.",
        mitigation="File fetched by hand after verifying the new key with the acquirer by phone.",
        resolution_notes="New host key confirmed by the acquirer and installed.",
    ),
    Scenario(
        services=("mobile-api",),
        impact=2, urgency=1, source=CUSTOMER, affected_users=1100,
        resolution_code=R.FIXED,
        title="Mobile app crashes on launch on iOS 16",
        description="iOS 16 users report the app closes immediately after the 5.2 update.",
        finding="Release 5.2 calls an API that exists only on iOS 17 and later.",
        mitigation="Phased rollout halted; a server flag turns off the new screen.",
        resolution_notes="Hotfix 5.2.1 released with a version check.",
    ),
    Scenario(
        services=("search", "web-storefront"),
        impact=3, urgency=3, source=CUSTOMER, affected_users=0,
        resolution_code=R.FIXED,
        title="Search suggests out-of-stock products",
        description="Autocomplete offers products that have been out of stock for weeks.",
        finding="Stock updates stopped flowing to the suggestion index after the queue migration.",
        mitigation="Suggestion index rebuilt from the catalogue.",
        resolution_notes="Stock events subscribed on the new queue.",
    ),
    Scenario(
        services=("identity-sso",),
        impact=2, urgency=2, source=ALERT, affected_users=0,
        resolution_code=R.CONFIGURATION,
        title="Spike of failed logins from one IP range",
        description="Failed logins rose from 50 to 12,000 per hour, almost all from one hosting "
                    "provider.",
        finding="A credential-stuffing attempt against staff accounts.",
        mitigation="The range blocked at the WAF; login rate limit tightened.",
        resolution_notes="WAF rule made permanent; the nine accounts with matching passwords were "
                         "forced to reset.",
    ),
    Scenario(
        services=("data-warehouse",),
        impact=3, urgency=3, source=EMAIL, affected_users=15,
        resolution_code=R.FIXED,
        title="Marketing attribution report missing yesterday",
        description="The attribution report has no data for yesterday.",
        finding="The ad platform export arrived after the ETL window closed.",
        mitigation="Report re-run by hand at 10:00.",
        resolution_notes="ETL waits for the export, up to two hours.",
    ),
    Scenario(
        services=("web-storefront", "mobile-api", "checkout"),
        impact=1, urgency=1, source=ALERT, affected_users=30000,
        resolution_code=R.ROLLBACK, related_change="CHG0004512",
        title="Storefront and mobile API unavailable",
        description="www.example.com and the mobile apps answer 503 for every request.",
        finding="A load balancer change removed the health-check path, so every backend was marked"
                " unhealthy.",
        mitigation="The load balancer change rolled back; traffic flowing.",
        resolution_notes="Change CHG0004512 rolled back; load balancer changes now need a health "
                         "check in the staging run.",
    ),
    Scenario(
        services=("vpn",),
        impact=3, urgency=3, source=EMAIL, affected_users=200,
        resolution_code=R.CONFIGURATION,
        title="Video calls routed through the VPN",
        description="Video calls stutter for remote staff since the new VPN profile.",
        finding="The new profile's split-tunnel list omits the conferencing provider's ranges.",
        mitigation="Users can disconnect the VPN during calls.",
        resolution_notes="Conferencing ranges excluded from the tunnel.",
    ),
    Scenario(
        services=("checkout", "postgres-primary"),
        impact=1, urgency=2, source=ALERT, affected_users=1800,
        resolution_code=R.FIXED,
        title="Orders stuck in 'processing' after payment",
        description="Paid orders do not move to 'confirmed'; warehouse picking lists are empty.",
        finding="A deadlock between the order and stock updates rolls back the confirmation.",
        mitigation="Stuck orders confirmed by a script; confirmation retries on deadlock.",
        resolution_notes="Stock rows locked in a fixed order; no deadlocks since.",
    ),
    Scenario(
        services=("hr-portal",),
        impact=3, urgency=2, source=PORTAL, affected_users=400,
        resolution_code=R.FIXED,
        title="HR portal unavailable during payroll run",
        description="The HR portal answers 503 while payroll runs.",
        finding="Payroll exports lock the employee table for the whole run.",
        mitigation="Payroll run moved to 20:00.",
        resolution_notes="Export reads from a snapshot and no longer locks the table.",
    ),
)
# fmt: on


class FalsePositive(NamedTuple):
    """Something that looked like an incident and was cancelled."""

    service: str
    source: IncidentSource
    title: str
    description: str
    reason: str


# fmt: off
FALSE_POSITIVES = (
    FalsePositive(service="postgres-primary", source=ALERT,
        title="Disk latency alert on postgres-primary",
        description="Write latency above 50 ms for five minutes.",
        reason="False positive: the alert fired during the scheduled storage snapshot; latency is "
               "normal."),
    FalsePositive(service="web-storefront", source=ALERT,
        title="Synthetic login check failing for the storefront",
        description="The synthetic monitor cannot log in to the storefront from three regions.",
        reason="False positive: the monitor's test account was locked by the password policy."),
    FalsePositive(service="vpn", source=EMAIL,
        title="User reports the VPN is down",
        description="One user cannot connect to the VPN from home.",
        reason="Not an incident: the user's home router blocks UDP; handled as a service request."),
)
# (title of the original incident, title of the duplicate report, description)
DUPLICATES = (
    (
        "Checkout returns 502 for card payments",
        "Customers cannot pay by card",
        "Customer service: several callers say their card payment fails at the last step.",
    ),
    (
        "SAML logins rejected: identity provider signing certificate expired",
        "Cannot log in to the HR portal or the wiki",
        "Email from the finance department: nobody can log in since this morning.",
    ),
    (
        "Storefront and mobile API unavailable",
        "Website down?",
        "Tweet forwarded by the social media team: 'is example.com down for anyone else?'",
    ),
)
# fmt: on


START_NOTES = (
    "Looking at error rates and the last 24 hours of deploys.",
    "Joined the bridge; pulling logs from the affected hosts.",
    "Checking the change calendar for anything that went out today.",
    "Reproduced it; collecting traces.",
)
HOLD_REASONS = (
    "Waiting for the vendor's support team to answer our ticket.",
    "Waiting for tonight's change window (22:00) to apply the fix.",
    "Waiting for the affected user to reproduce with logging enabled.",
    "Paused until the storage team finishes the firmware upgrade.",
)
RESUME_NOTES = (
    "Vendor answered; continuing.",
    "Change window open; applying the fix.",
    "User reproduced it with logging on; we have what we need.",
)
PRIORITY_REASONS = (
    "Affects the finance team during quarter close.",
    "Customer-facing during the spring campaign.",
    "The CEO's office is among the affected users.",
)
REOPEN_REASONS = (
    "The errors are back since this morning.",
    "Users report the same symptom again.",
)
CLOSE_NOTES = ("Reviewed in the weekly incident review.", "", "Problem record created.")
