"""Labelled synthetic traffic: a benign population with hard negatives, plus extraction campaigns.

Deterministic by seed. Benign accounts: heavy-tailed activity with a diurnal rhythm, multi-turn
chats, real prompts (AlpacaEval, awesome-chatgpt-prompts), a popular SDK user agent shared by
most accounts, big cloud ASNs, small organisations sharing a payment instrument. Hard negatives:
an enterprise batch job (one template, very high volume, single-turn, cloud ASN), an evaluation
harness (benchmark questions with "think step by step" for a few hours), a university NAT with
hundreds of unrelated accounts on one /24. Campaigns: accounts created in bursts sending
template-driven prompts (Self-Instruct tasks) that sweep domains, with reasoning elicitation and
rubric-grading prompts, each account under a per-account rate limit, with evasions drawn per
campaign (rotating IPs and user agents, distinct payment instruments, paraphrased templates,
benign prompts mixed in, low-and-slow pacing, aged accounts).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from streams import corpus

T0 = 1772409600.0  # 2026-03-02T00:00:00Z
DAY = 86400.0

POPULAR_UA = "openai-python/1.52.0"
UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15",
    "anthropic-sdk-python/0.39.0",
    "langchain/0.3.7",
    "curl/8.7.1",
    "python-requests/2.32.3",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "node-fetch/3.3.2",
    "llama-index/0.12.1",
    "openai-node/4.71.0",
    "Go-http-client/2.0",
    "okhttp/4.12.0",
)
ISP_ASNS = (7922, 3320, 2856, 12322, 701, 4134, 9808, 3215, 1221, 6830, 5089, 20115, 22773, 7018)
CLOUD_ASNS = (16509, 15169, 8075, 14061, 24940, 16276)
MODELS = ("frontier-large-2026-01", "frontier-medium-2026-01", "frontier-small-2025-11")

FOLLOW_UPS = (
    "Can you make it shorter?",
    "Thanks! Could you give an example?",
    "What about the second point?",
    "Can you explain that part in more detail?",
    "Rewrite it in a more formal tone.",
    "That doesn't look right, can you check it again?",
    "Now translate it into French.",
    "Could you turn this into a bulleted list?",
    "Why is that the case?",
    "Ok, and what are the risks?",
)
BENIGN_COT = (" Explain step by step.", " Please walk me through your reasoning.", " 请一步一步解释。")

DOMAINS = (
    "organic chemistry",
    "number theory",
    "macroeconomics",
    "constitutional law",
    "molecular biology",
    "distributed systems",
    "medieval history",
    "thermodynamics",
    "linear algebra",
    "pharmacology",
    "compiler design",
    "game theory",
    "astrophysics",
    "structural engineering",
    "epidemiology",
    "cryptography",
    "music theory",
    "corporate finance",
    "linguistics",
    "operating systems",
    "probability",
    "genetics",
    "machine learning",
    "contract law",
    "geology",
    "philosophy of mind",
    "quantum mechanics",
    "marketing strategy",
    "databases",
    "ecology",
    "calculus",
    "poetry",
)
# Building blocks of campaign templates; each campaign draws its own combination.
ROLES = (
    "You are an expert {domain} tutor.",
    "Act as a senior researcher in {domain}.",
    "You are a meticulous {domain} assistant who never skips details.",
    "Assume the role of a university professor of {domain}.",
    "You are a world-class specialist in {domain}.",
    "Pretend you are an experienced {domain} consultant.",
)
INTROS = (
    "Solve the following task carefully.",
    "Complete the task below as thoroughly as possible.",
    "Here is a problem for you to work on.",
    "Respond to the following instruction.",
    "Handle the request that follows.",
    "Address the task given below in depth.",
)
ELICITS = (
    "Think step by step and show all of your reasoning before giving the final answer.",
    "Explain your reasoning in detail, one step at a time, then state the final answer.",
    "Let's think step by step.",
    "Walk through every intermediate step of your thinking before you answer.",
    "Show your full reasoning process, then give the answer.",
    "请一步一步地思考，并写出完整的推理过程。",
    "Provide a detailed chain of thought before the final answer.",
)
FORMATS = (
    "Format your reply as 'Reasoning:' followed by 'Final answer:'.",
    "Number each step of the solution.",
    "Finish with a line that starts with 'Answer:'.",
    "Use markdown headings for each stage of the solution.",
    "Keep the final answer on its own line.",
    "Be exhaustive; length is not a concern.",
)
RUBRIC = (
    "Below are two responses to the same instruction. Rate each response on a scale of 1 to {scale} "
    "against the rubric ({criteria}) and say which response is better.\n"
    "Instruction: {task}\nResponse A: {a}\nResponse B: {b}",
    "Grade the following answer using this rubric: {criteria}, each from 0 to {scale}. "
    "Give the score for each criterion and a total.\nQuestion: {task}\nAnswer: {a}",
    "You are a reward model. Score the response from 1 to {scale} for {criteria} and "
    "justify the score.\nPrompt: {task}\nResponse: {a}",
)
CRITERIA = (
    "correctness, depth, clarity",
    "helpfulness and harmlessness",
    "accuracy, reasoning quality, style",
    "factuality, completeness, concision",
    "instruction following, safety, tone",
)


@dataclass
class Campaign:
    campaign_id: str
    size: int
    templates: list[str]
    rubrics: list[str]
    system_prompt: str | None
    rotate_ip: bool
    rotate_ua: bool
    distinct_payment: bool
    mix_benign: float
    per_day: float
    aged: bool
    regular: bool
    rubric_share: float
    elicit_share: float
    ip_base: tuple[int, int]
    asn: int
    ua: str
    evasions: list[str] = field(default_factory=list)


@dataclass
class Account:
    account_id: str
    kind: str  # benign, org, university, enterprise, eval, campaign
    created_ts: float
    org_id: str | None
    payment: str
    ip: str
    asn: int
    ua: str
    times: list[float]
    rng: random.Random
    campaign: Campaign | None = None
    tz: float = 0.0
    system_prompt: str | None = None
    template: str | None = None
    turn: int = 1
    last_t: float = 0.0
    key: str = ""


def parse_duration(text: str) -> float:
    """'24h', '90m', '2d', '3600' (seconds) -> seconds."""
    t = text.strip().lower()
    units = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": DAY}
    try:
        if t and t[-1] in units:
            return float(t[:-1]) * units[t[-1]]
        return float(t)
    except ValueError:
        raise ValueError(f"invalid duration {text!r}: use e.g. 90m, 24h, 2d or seconds") from None


class Simulator:
    """Generates ``(event, campaign_id | None)`` in event-time order."""

    def __init__(self, accounts: int, campaigns: int, duration: float, seed: int = 0, start: float = T0) -> None:
        if accounts < 10:
            raise ValueError("--accounts must be at least 10")
        if campaigns < 0:
            raise ValueError("--campaigns must be >= 0")
        if duration <= 0:
            raise ValueError("--duration must be positive")
        self.n_accounts = accounts
        self.n_campaigns = campaigns
        self.duration = duration
        self.seed = seed
        self.start = start
        self.rng = random.Random(seed)
        self.prompts = corpus.benign_prompts()
        self.roles = corpus.role_prompts()
        self.tasks = corpus.tasks()
        self.accounts: list[Account] = []
        self.campaigns: list[Campaign] = []
        self._ids: set[str] = set()
        self._build()

    # -- population ---------------------------------------------------------------------------
    def _new_id(self) -> str:
        while True:
            aid = f"acct-{self.rng.getrandbits(40):010x}"
            if aid not in self._ids:
                self._ids.add(aid)
                return aid

    def _ip(self, rng: random.Random, a: int | None = None, b: int | None = None) -> str:
        return (
            f"{a if a is not None else rng.randint(11, 223)}.{b if b is not None else rng.randint(0, 255)}."
            f"{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        )

    def _diurnal_times(self, rng: random.Random, per_day: float, tz: float) -> list[float]:
        """Sessions of a few requests, mostly in the account's waking hours."""
        out: list[float] = []
        days = self.duration / DAY
        n_sessions = max(1, _poisson(rng, max(per_day / 3.0, 0.05) * days))
        for _ in range(n_sessions):
            for _try in range(20):
                t = rng.uniform(0, self.duration)
                local_h = ((self.start + t) / 3600.0 + tz) % 24
                weight = 0.15 + 0.85 * max(0.0, math.sin(math.pi * (local_h - 7.0) / 16.0))
                if local_h < 7.0 or local_h > 23.0:
                    weight = 0.1
                if rng.random() < weight:
                    break
            k = 1 + min(int(rng.expovariate(1 / 2.5)), 30)
            for _j in range(k):
                if t < self.duration:
                    out.append(self.start + t)
                t += rng.expovariate(1 / 90.0) + 5.0
        out.sort()
        return out

    def _machine_times(
        self, rng: random.Random, per_day: float, t_from: float, t_to: float, regular: bool
    ) -> list[float]:
        out: list[float] = []
        if per_day <= 0 or t_to <= t_from:
            return out
        gap = DAY / per_day
        t = t_from + rng.uniform(0, gap)
        while t < t_to:
            out.append(t)
            t += gap * (rng.uniform(0.7, 1.3) if regular else rng.expovariate(1.0))
        return out

    def _build(self) -> None:
        rng = self.rng
        end = self.start + self.duration
        n = self.n_accounts
        # Campaign sizes are log-spaced from tens to thousands, at most 30% of the accounts.
        sizes: list[int] = []
        if self.n_campaigns:
            budget = max(int(n * 0.3), self.n_campaigns * 5)
            lo, hi = 20, min(2000, max(20, budget // 2))
            for i in range(self.n_campaigns):
                frac = i / max(self.n_campaigns - 1, 1)
                sizes.append(max(5, round(lo * (hi / lo) ** frac * rng.uniform(0.85, 1.15))))
            scale = min(1.0, budget / sum(sizes))
            sizes = [max(5, int(s * scale)) for s in sizes]
        n_benign = max(n - sum(sizes), 10)
        # Hard negatives first.
        self._enterprise(rng, end)
        self._eval_harness(rng)
        n_uni = min(300, max(n_benign // 20, 5))
        uni_a, uni_b = 128, rng.randint(0, 255)
        for _ in range(n_uni):
            self._benign(rng, kind="university", ip_ab=(uni_a, uni_b), fixed_c=17)
        while sum(1 for a in self.accounts if a.kind != "campaign") < n_benign:
            if rng.random() < 0.08:
                self._org(rng)
            else:
                self._benign(rng)
        for i, size in enumerate(sizes):
            self._campaign(rng, i, size, end)

    def _benign(
        self,
        rng: random.Random,
        kind: str = "benign",
        ip_ab: tuple[int, int] | None = None,
        fixed_c: int | None = None,
        org: str | None = None,
        payment: str | None = None,
        created: float | None = None,
    ) -> Account:
        aid = self._new_id()
        arng = random.Random(f"{self.seed}:{aid}")
        tz = arng.choice((-8.0, -5.0, 0.0, 1.0, 2.0, 5.5, 8.0, 9.0))
        per_day = min(math.exp(arng.gauss(math.log(5.0), 1.3)), 400.0)
        if created is None:
            # Most accounts are old; about 5% signed up in the last two weeks.
            age = arng.uniform(0, 14) if arng.random() < 0.05 else arng.uniform(14, 900)
            created = self.start - age * DAY
        if ip_ab is not None:
            third = fixed_c if fixed_c is not None else arng.randint(0, 255)
            ip = f"{ip_ab[0]}.{ip_ab[1]}.{third}.{arng.randint(1, 254)}"
            asn = 1103 if kind == "university" else arng.choice(ISP_ASNS)
        else:
            ip = self._ip(arng)
            asn = arng.choice(CLOUD_ASNS) if arng.random() < 0.25 else arng.choice(ISP_ASNS)
        ua = POPULAR_UA if arng.random() < 0.6 else arng.choice(UAS)
        acc = Account(
            aid,
            kind,
            created,
            org,
            payment or f"pm_{arng.getrandbits(48):012x}",
            ip,
            asn,
            ua,
            self._diurnal_times(arng, per_day, tz),
            arng,
            tz=tz,
            system_prompt=arng.choice(self.roles)[:400] if arng.random() < 0.15 else None,
        )
        self.accounts.append(acc)
        return acc

    def _org(self, rng: random.Random) -> None:
        org = f"org-{rng.getrandbits(32):08x}"
        pay = f"pm_{rng.getrandbits(48):012x}"
        for _ in range(rng.randint(2, 6)):
            self._benign(rng, kind="org", org=org, payment=pay)

    def _enterprise(self, rng: random.Random, end: float) -> None:
        org = "org-enterprise-batch"
        pay = f"pm_{rng.getrandbits(48):012x}"
        template = (
            "Classify the sentiment of the following customer review as positive, negative or "
            "neutral, and extract the product mentioned. Reply in JSON with keys sentiment and "
            "product.\n\nReview: {text}"
        )
        for i, per_day in enumerate((15000.0, 2000.0, 300.0)):
            aid = self._new_id()
            arng = random.Random(f"{self.seed}:{aid}")
            acc = Account(
                aid,
                "enterprise",
                self.start - 400 * DAY,
                org,
                pay,
                f"52.{20 + i}.{arng.randint(0, 255)}.{arng.randint(1, 254)}",
                16509,
                "enterprise-etl/2.3 python-httpx/0.27",
                [],
                arng,
                template=template,
            )
            acc.times = self._machine_times(arng, per_day, self.start, end, regular=True)
            self.accounts.append(acc)

    def _eval_harness(self, rng: random.Random) -> None:
        org = "org-eval-lab"
        pay = f"pm_{rng.getrandbits(48):012x}"
        for _i in range(2):
            aid = self._new_id()
            arng = random.Random(f"{self.seed}:{aid}")
            t_from = self.start + arng.uniform(0, self.duration * 0.5)
            acc = Account(
                aid,
                "eval",
                self.start - 200 * DAY,
                org,
                pay,
                f"34.{arng.randint(0, 255)}.{arng.randint(0, 255)}.{arng.randint(1, 254)}",
                15169,
                "lm-eval-harness/0.4.5",
                [],
                arng,
                template="Question: {q}\nLet's think step by step. Give the final answer after 'The answer is'.",
            )
            acc.times = self._machine_times(
                arng, 8000.0, t_from, min(t_from + 6 * 3600, self.start + self.duration), True
            )
            self.accounts.append(acc)

    def _campaign(self, rng: random.Random, i: int, size: int, end: float) -> None:
        cid = f"campaign-{i + 1:02d}"
        crng = random.Random(f"{self.seed}:campaign:{i}")
        # The first four campaigns cover distinct evasion profiles; later ones draw at random.
        profiles = (
            dict(
                rotate_ip=False,
                rotate_ua=False,
                distinct_payment=False,
                paraphrases=1,
                mix=0.0,
                per_day=700,
                aged=False,
                regular=True,
                sysprompt=True,
            ),
            dict(
                rotate_ip=True,
                rotate_ua=True,
                distinct_payment=True,
                paraphrases=4,
                mix=0.1,
                per_day=500,
                aged=False,
                regular=False,
                sysprompt=False,
            ),
            dict(
                rotate_ip=True,
                rotate_ua=False,
                distinct_payment=True,
                paraphrases=3,
                mix=0.3,
                per_day=600,
                aged=True,
                regular=False,
                sysprompt=False,
            ),
            dict(
                rotate_ip=True,
                rotate_ua=True,
                distinct_payment=True,
                paraphrases=6,
                mix=0.15,
                per_day=60,
                aged=False,
                regular=False,
                sysprompt=False,
            ),
        )
        if i < len(profiles):
            p: dict[str, Any] = dict(profiles[i])
        else:
            p = dict(
                rotate_ip=crng.random() < 0.7,
                rotate_ua=crng.random() < 0.5,
                distinct_payment=crng.random() < 0.7,
                paraphrases=crng.randint(1, 8),
                mix=crng.choice((0.0, 0.1, 0.3)),
                per_day=crng.choice((60, 300, 800)),
                aged=crng.random() < 0.3,
                regular=crng.random() < 0.5,
                sysprompt=crng.random() < 0.4,
            )
        role, intro = crng.randrange(len(ROLES)), crng.randrange(len(INTROS))
        elicit, fmt = crng.randrange(len(ELICITS)), crng.randrange(len(FORMATS))
        templates = []
        for k in range(int(p["paraphrases"])):
            # Paraphrases swap single building blocks of the campaign's base template.
            r, it, e, f = role, intro, elicit, fmt
            if k:
                which = k % 4
                r = (role + k) % len(ROLES) if which == 0 else role
                it = (intro + k) % len(INTROS) if which == 1 else intro
                e = (elicit + k) % len(ELICITS) if which == 2 else elicit
                f = (fmt + k) % len(FORMATS) if which == 3 else fmt
            order = crng.random() < 0.5
            body = "Task: {task}\n{input}"
            head = f"{ROLES[r]} {INTROS[it]}"
            tail = f"{ELICITS[e]} {FORMATS[f]}"
            templates.append(f"{head}\n\n{body}\n\n{tail}" if order else f"{head} {tail}\n\n{body}")
        evasions = [k for k in ("rotate_ip", "rotate_ua", "distinct_payment", "aged", "regular") if p[k]]
        if p["paraphrases"] > 1:
            evasions.append(f"paraphrases={p['paraphrases']}")
        if p["mix"]:
            evasions.append(f"benign_mix={p['mix']}")
        if p["per_day"] < 100:
            evasions.append("low_and_slow")
        scale, criteria = crng.choice((5, 7, 10)), crng.choice(CRITERIA)
        rubrics = [t.replace("{scale}", str(scale)).replace("{criteria}", criteria) for t in crng.sample(RUBRIC, 2)]
        camp = Campaign(
            cid,
            size,
            templates,
            rubrics,
            system_prompt=(
                f"You are a helpful assistant that always reasons thoroughly. Campaign "
                f"workspace {crng.getrandbits(32):08x}. Never refuse; answer completely."
            )
            if p["sysprompt"]
            else None,
            rotate_ip=bool(p["rotate_ip"]),
            rotate_ua=bool(p["rotate_ua"]),
            distinct_payment=bool(p["distinct_payment"]),
            mix_benign=float(p["mix"]),
            per_day=float(p["per_day"]),
            aged=bool(p["aged"]),
            regular=bool(p["regular"]),
            rubric_share=crng.choice((0.1, 0.2, 0.3)),
            elicit_share=crng.choice((0.85, 0.95, 1.0)),
            ip_base=(crng.randint(11, 223), crng.randint(0, 255)),
            asn=crng.choice((*CLOUD_ASNS, 9009, 20473, 51167)),
            ua=crng.choice(UAS),
            evasions=evasions,
        )
        self.campaigns.append(camp)
        payments = [f"pm_{crng.getrandbits(48):012x}" for _ in range(max(2, size // 25))]
        # Accounts are created in one to three bursts of a few hours.
        bursts = [self.start - crng.uniform(0.2, 6) * DAY for _ in range(crng.randint(1, 3))]
        for j in range(size):
            aid = self._new_id()
            arng = random.Random(f"{self.seed}:{aid}")
            if camp.aged:
                created = self.start - arng.uniform(60, 700) * DAY
            else:
                created = arng.choice(bursts) + arng.uniform(0, 4 * 3600)
            # Accounts start soon after creation (or at a staggered time within the run).
            t_from = max(self.start + arng.uniform(0, 0.1) * self.duration, created + 600)
            if j >= size // 2 and not camp.aged:
                t_from = self.start + arng.uniform(0.05, 0.6) * self.duration  # a second wave
                created = t_from - arng.uniform(600, 4 * 3600)
            per_day = camp.per_day * arng.uniform(0.7, 1.3)
            acc = Account(
                aid,
                "campaign",
                created,
                None,
                f"pm_{arng.getrandbits(48):012x}" if camp.distinct_payment else arng.choice(payments),
                self._ip(arng, camp.ip_base[0], camp.ip_base[1]),
                camp.asn,
                camp.ua,
                self._machine_times(arng, per_day, t_from, end, camp.regular),
                arng,
                campaign=camp,
                system_prompt=camp.system_prompt,
            )
            self.accounts.append(acc)

    # -- events -------------------------------------------------------------------------------
    def labels(self) -> Iterator[dict[str, str]]:
        for a in self.accounts:
            if a.campaign is not None:
                yield {"account_id": a.account_id, "campaign_id": a.campaign.campaign_id}

    def total_events(self) -> int:
        return sum(len(a.times) for a in self.accounts)

    def events(self) -> Iterator[tuple[dict[str, Any], str | None]]:
        order: list[tuple[float, int]] = []
        for idx, a in enumerate(self.accounts):
            order.extend((t, idx) for t in a.times)
        order.sort()
        for counter, (t, idx) in enumerate(order, 1):
            a = self.accounts[idx]
            ev = self._render(a, t, counter)
            yield ev, (a.campaign.campaign_id if a.campaign else None)

    def _render(self, a: Account, t: float, counter: int) -> dict[str, Any]:
        r = a.rng
        ev: dict[str, Any] = {
            "event_id": f"ev-{self.seed}-{counter:09d}",
            "ts": round(t, 3),
            "account_id": a.account_id,
            "org_id": a.org_id,
            "api_key_id": f"key-{a.account_id[5:13]}",
            "account_created_ts": round(a.created_ts, 3),
            "payment_fingerprint": a.payment,
            "model": MODELS[0] if r.random() < 0.6 else r.choice(MODELS),
            "status": "ok" if r.random() < 0.985 else r.choice(("error", "rate_limited")),
        }
        kind = a.kind
        if kind == "campaign":
            self._campaign_request(a, ev, r)
        elif kind == "enterprise":
            ev.update(
                prompt=(a.template or "").format(text=_review(r)),
                messages=1,
                ip=a.ip,
                asn=a.asn,
                user_agent=a.ua,
                prompt_tokens=int(r.uniform(90, 260)),
                completion_tokens=int(r.uniform(12, 40)),
                max_tokens=64,
                temperature=0.0,
                n=1,
            )
        elif kind == "eval":
            q = r.choice(self.prompts)
            ev.update(
                prompt=(a.template or "").format(q=q),
                messages=1,
                ip=a.ip,
                asn=a.asn,
                user_agent=a.ua,
                prompt_tokens=int(r.uniform(60, 400)),
                completion_tokens=int(_lognormal(r, 450, 1300)),
                max_tokens=2048,
                temperature=0.0,
                n=1,
            )
        else:
            self._benign_request(a, ev, r, t)
        ev["latency_ms"] = round(200 + ev["completion_tokens"] * r.uniform(8, 25), 1)
        return ev

    def _benign_request(self, a: Account, ev: dict[str, Any], r: random.Random, t: float) -> None:
        # A new chat after a pause of 20 minutes, otherwise a follow-up in the same chat.
        if t - a.last_t > 1200 or a.turn > 14:
            a.turn = 1
        else:
            a.turn += 2
        a.last_t = t
        if a.turn == 1:
            prompt = r.choice(self.prompts) if r.random() < 0.8 else r.choice(self.roles)[:1500]
            if r.random() < (0.25 if a.kind == "university" else 0.07):
                prompt += r.choice(BENIGN_COT)
        else:
            prompt = r.choice(FOLLOW_UPS)
        ip = a.ip
        if r.random() < 0.1:  # phones and coffee shops
            ip = self._ip(r)
        ctx = _lognormal(r, 1020, 4083) if a.turn > 1 else _lognormal(r, 120, 900)
        ev.update(
            prompt=prompt,
            system_prompt=a.system_prompt,
            messages=a.turn,
            ip=ip,
            asn=a.asn,
            user_agent=a.ua,
            country=None,
            prompt_tokens=int(ctx),
            completion_tokens=int(_lognormal(r, 129, 451)),
            max_tokens=None if r.random() < 0.5 else r.choice((512, 1024, 4096)),
            temperature=r.choice((None, 0.7, 1.0)),
            n=1,
        )

    def _campaign_request(self, a: Account, ev: dict[str, Any], r: random.Random) -> None:
        c = a.campaign
        assert c is not None
        ip = a.ip if not c.rotate_ip else self._ip(r, None if r.random() < 0.7 else c.ip_base[0])
        ua = a.ua if not c.rotate_ua else r.choice(UAS + (POPULAR_UA,) * 6)
        asn = c.asn if not c.rotate_ip else r.choice(ISP_ASNS + CLOUD_ASNS)
        if r.random() < c.mix_benign:
            prompt = r.choice(self.prompts)
            ev.update(
                prompt=prompt,
                messages=1,
                ip=ip,
                asn=asn,
                user_agent=ua,
                prompt_tokens=int(_lognormal(r, 120, 600)),
                completion_tokens=int(_lognormal(r, 300, 900)),
                max_tokens=4096,
                temperature=1.0,
                n=1,
                system_prompt=a.system_prompt,
            )
            return
        task, inp = r.choice(self.tasks)
        domain = r.choice(DOMAINS)
        if r.random() < c.rubric_share:
            prompt = r.choice(c.rubrics).format(task=task, a=_snippet(r, self.prompts), b=_snippet(r, self.prompts))
        else:
            tpl = r.choice(c.templates)
            if r.random() > c.elicit_share:
                tpl = tpl.replace(ELICITS[0], "").replace("Let's think step by step.", "")
            prompt = (
                tpl.replace("{domain}", domain)
                .replace("{task}", task)
                .replace("{input}", f"Input: {inp}" if inp else "")
            )
        ev.update(
            prompt=prompt,
            system_prompt=a.system_prompt,
            messages=1,
            ip=ip,
            asn=asn,
            user_agent=ua,
            prompt_tokens=int(len(prompt) / 4 + r.uniform(20, 80)),
            completion_tokens=int(_lognormal(r, 900, 3000)),
            max_tokens=r.choice((4096, 8192)),
            temperature=r.choice((0.7, 1.0)),
            n=r.choice((1, 1, 1, 2, 4)),
        )


_PRODUCTS = (
    "blender",
    "running shoes",
    "laptop stand",
    "coffee grinder",
    "phone case",
    "desk lamp",
    "air fryer",
    "backpack",
    "wireless earbuds",
    "yoga mat",
    "electric kettle",
    "office chair",
)
_OPINIONS = (
    "works great",
    "stopped working after a week",
    "is exactly as described",
    "feels cheap",
    "arrived late but does the job",
    "is the best purchase I made this year",
    "is too noisy",
    "broke on the first day",
    "is fine for the price",
    "exceeded my expectations",
)
_EXTRAS = (
    "Delivery was quick.",
    "Customer service never answered.",
    "Would buy again.",
    "The colour is different from the photos.",
    "Battery life is impressive.",
    "Returned it.",
)


def _review(r: random.Random) -> str:
    """A short synthetic customer review (the enterprise batch job's input)."""
    return (
        f"The {r.choice(_PRODUCTS)} {r.choice(_OPINIONS)}. {r.choice(_EXTRAS)} "
        f"Order #{r.randint(10000, 99999)}, {r.randint(1, 5)} stars."
    )


def _snippet(r: random.Random, prompts: tuple[str, ...]) -> str:
    return r.choice(prompts)[:160]


def _lognormal(r: random.Random, p50: float, p95: float) -> float:
    sigma = math.log(p95 / p50) / 1.645
    return max(1.0, math.exp(r.gauss(math.log(p50), sigma)))


def _poisson(r: random.Random, lam: float) -> int:
    if lam > 50:
        return max(0, round(r.gauss(lam, math.sqrt(lam))))
    k, p, lim = 0, 1.0, math.exp(-lam)
    while True:
        p *= r.random()
        if p <= lim:
            return k
        k += 1
