#!/usr/bin/python3
"""Seeded synthetic rule packs for the rule-scaling benchmark (valid per docs/rules.md).

    gen_rules.py --count N --seed S --out FILE.yaml

Watch-list style rules as an operator would add them on top of the default pack, keyed on action
lists (so the action index applies) and mixing the three kinds of predicate chipwatch compiles:
  - regex rules      (~40%): action in a list AND a Hyperscan regex on principal, user_agent,
                             instance.type or model.id
  - list (`in`) rules (~35%): action in a list AND account / principal / region in a list of values
  - CIDR rules        (~25%): action in a list AND source.ip in a few networks
Values are random (accounts, user names, /24 networks), so almost every rule is a candidate for
many events (the actions are the common CloudTrail ones) but few match: what is measured is the
cost of evaluating a large pack, not of printing alerts. About 1 rule in 200 watches a network the
generated data uses, so the pack does raise some alerts.
"""
import argparse
import random

ACTION_LISTS = {
    "bench_read_actions": ["GetObject", "ListBuckets", "DescribeInstances", "DescribeVolumes",
                           "DescribeSecurityGroups", "GetParameter", "DescribeLogStreams", "ListRoles"],
    "bench_identity_actions": ["AssumeRole", "GetCallerIdentity", "AssumeRoleWithWebIdentity",
                               "GetSessionToken", "CreateAccessKey"],
    "bench_kms_actions": ["Decrypt", "GenerateDataKey", "Encrypt", "ReEncrypt"],
    "bench_write_actions": ["PutObject", "DeleteObject", "PutBucketPolicy", "CreateBucket"],
    "bench_compute_actions": ["RunInstances", "CreateFleet", "RequestSpotInstances", "ModifyInstanceAttribute",
                              "CreateCapacityReservation", "StartInstances"],
    "bench_ml_actions": ["CreateTrainingJob", "CreateEndpointConfig", "InvokeModel", "Converse",
                         "InvokeModelWithResponseStream", "ConverseStream"],
}
REGEX_FIELDS = ["principal", "user_agent", "instance.type", "model.id"]
WORDS = ["falcon", "orchid", "granite", "harbor", "nimbus", "quartz", "tundra", "willow", "zephyr",
         "ember", "lumen", "cobalt", "saffron", "onyx", "delta", "vector"]
REGIONS = ["us-east-2", "ca-central-1", "sa-east-1", "af-south-1", "ap-south-2", "eu-south-1",
           "il-central-1", "mx-central-1"]
LIVE_NETS = ["1.202.0.0/16", "36.110.0.0/16", "5.255.255.0/24", "2.144.0.0/14"]


def q(s):
    return "'" + s.replace("'", "''") + "'"


def rule(rnd, i):
    lst = rnd.choice(list(ACTION_LISTS))
    action = f"{{in: {{field: action, list: {lst}}}}}"
    kind = rnd.random()
    w1, w2 = rnd.choice(WORDS), rnd.choice(WORDS)
    n = rnd.randrange(1000, 99999)
    if kind < 0.40:
        field = rnd.choice(REGEX_FIELDS)
        pattern = {
            "principal": rf"arn:aws:(iam|sts)::\d{{12}}:(user|assumed-role)/{w1}-{w2}-{n}\b",
            "user_agent": rf"(?:{w1}|{w2})-scanner/{n % 97}\.\d+",
            "instance.type": rf"^{w1[:2]}{n % 9}[a-z]*\.(metal|{n % 50}xlarge)$",
            "model.id": rf"(^|[.:/]){w1}\.{w2}-{n}(-v\d+)?",
        }[field]
        cond = f"{{regex: {{field: {field}, pattern: {q(pattern)}, ignore_case: {str(rnd.random() < 0.3).lower()}}}}}"
        tag = "regex"
    elif kind < 0.75:
        field = rnd.choice(["account", "principal", "region"])
        if field == "account":
            items = [f"'{rnd.randrange(10**11, 10**12)}'" for _ in range(rnd.randrange(3, 20))]
        elif field == "principal":
            items = [q(f"arn:aws:iam::{rnd.randrange(10**11, 10**12)}:user/{rnd.choice(WORDS)}.{rnd.randrange(10**4)}")
                     for _ in range(rnd.randrange(2, 10))]
        else:
            items = [rnd.choice(REGIONS) for _ in range(2)]
        cond = f"{{in: {{field: {field}, items: [{', '.join(items)}]}}}}"
        tag = "list"
    else:
        if rnd.random() < 0.02:
            nets = [rnd.choice(LIVE_NETS)]
            lst = "bench_compute_actions"
            action = f"{{in: {{field: action, list: {lst}}}}}"
        else:
            nets = [f"{rnd.choice([45, 62, 77, 91, 102, 141, 185])}.{rnd.randrange(256)}.{rnd.randrange(256)}.0/24"
                    for _ in range(rnd.randrange(1, 6))]
        cond = f"{{cidr: {{field: source.ip, items: [{', '.join(nets)}]}}}}"
        tag = "cidr"
    sev = rnd.choice(["low", "medium", "high"])
    return (f"  - id: BENCH-{i:05d}\n"
            f"    title: Watch-list {tag} rule {i} ({lst})\n"
            f"    severity: {sev}\n"
            f"    tags: [bench, {tag}]\n"
            f"    reason: \"{tag} watch {i}: {{action}} by {{principal}} from {{source.ip}}\"\n"
            f"    condition:\n"
            f"      all:\n"
            f"        - {action}\n"
            f"        - {cond}\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    with open(a.out, "w") as f:
        f.write(f"# Generated by bench/gen_rules.py --count {a.count} --seed {a.seed}; not part of the pack.\n")
        f.write("lists:\n")
        for name, items in ACTION_LISTS.items():
            f.write(f"  - name: {name}\n    source: bench/gen_rules.py\n    items: [{', '.join(items)}]\n")
        f.write("rules:\n")
        for i in range(a.count):
            f.write(rule(rnd, i))


if __name__ == "__main__":
    main()
