#!/usr/bin/python3
"""Seeded, reproducible synthetic log streams for the benchmarks (JSON Lines).

    gen_events.py --format cloudtrail|gcp_audit|azure_activity|k8s_audit|gpu_alloc
                  --count N --seed S --out FILE [--id-prefix P]

The same arguments always give byte-identical output (random.Random(seed), no wall clock).

CloudTrail records are realistic in size and shape (~1 KB: userIdentity with sessionContext,
requestParameters, responseElements, additionalEventData, tlsDetails, resources...): about 95%
read-only noise (Describe*, GetObject, AssumeRole, Decrypt, ListBuckets, GetCallerIdentity...),
~4% Bedrock model invocations (InvokeModel, Converse... of anthropic.claude* and other vendors'
models) and ~1% launches (RunInstances, CreateTrainingJob, CreateFleet...) of restricted and
harmless instance types. Source addresses come from ranges that the test GeoIP database
(tests/data/geoip/test-country.mmdb) maps: mostly US and DE, some CN, RU and IR, a few AWS
service principals. The other formats copy the shapes of tests/data/samples/<format>.jsonl.
"""
import argparse
import json
import random
import sys

# ---------------------------------------------------------------------------------------- shared
COUNTRY_WEIGHTS = [("US", 62), ("US2", 8), ("DE", 14), ("CN", 8), ("RU", 4), ("IR", 2), ("SVC", 2)]


def pick_weighted(rnd, pairs):
    total = sum(w for _, w in pairs)
    x = rnd.random() * total
    for v, w in pairs:
        x -= w
        if x < 0:
            return v
    return pairs[-1][0]


def source_ip(rnd):
    c = pick_weighted(rnd, COUNTRY_WEIGHTS)
    r = rnd.randrange
    if c == "US":
        return f"3.{r(256)}.{r(256)}.{r(1, 255)}"
    if c == "US2":
        return f"203.0.113.{r(1, 255)}"
    if c == "DE":
        return f"198.51.100.{r(1, 255)}"
    if c == "CN":
        return rnd.choice([f"1.202.{r(256)}.{r(1, 255)}", f"36.110.{r(256)}.{r(1, 255)}"])
    if c == "RU":
        return rnd.choice([f"5.255.255.{r(1, 255)}", f"35.249.{r(256)}.{r(1, 255)}"])
    if c == "IR":
        return f"2.{r(144, 148)}.{r(256)}.{r(1, 255)}"
    return rnd.choice(["ec2.amazonaws.com", "sagemaker.amazonaws.com", "AWS Internal"])


def uuid(rnd):
    h = f"{rnd.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def hexid(rnd, n):
    return f"{rnd.getrandbits(4 * n):0{n}x}"


def timestamp(i, base_s=1748772000, step_ms=37, ms=False):
    """Monotonic event times from 2025-06-01T10:00:00Z."""
    t_ms = base_s * 1000 + i * step_ms
    s, milli = divmod(t_ms, 1000)
    # days since epoch -> civil date (no datetime: identical output on every Python)
    days, sod = divmod(s, 86400)
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y += m <= 2
    hh, rem = divmod(sod, 3600)
    mm, ss = divmod(rem, 60)
    base = f"{y:04d}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}"
    return f"{base}.{milli:03d}Z" if ms else f"{base}Z"


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"))


# ------------------------------------------------------------------------------------ cloudtrail
ACCOUNTS = ["111122223333", "444455556666", "777788889999", "123456789012", "210987654321"]
ROLES = ["DataPipelineRole", "MLTrainingRole", "ReadOnlyAuditor", "AdminRole", "CIDeployRole",
         "InferenceServiceRole"]
USERS = ["alice", "bob", "ops-admin", "ml-dev", "li.wei", "ivan.p", "svc-backup"]
REGIONS = [("us-east-1", 40), ("us-west-2", 25), ("eu-central-1", 15), ("ap-northeast-1", 8),
           ("eu-west-1", 7), ("me-central-1", 2), ("ap-east-1", 2), ("cn-north-1", 1)]
AGENTS = ["aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 exe/x86_64.debian.12 prompt/off command/ec2.describe-instances",
          "Boto3/1.34.84 md/Botocore#1.34.84 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.8",
          "aws-sdk-java/2.25.6 Linux/5.10.210-201.852.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10",
          "console.amazonaws.com",
          "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.2 md/GOOS#linux md/GOARCH#amd64 api/s3#1.53.1",
          "terraform-provider-aws/5.46.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.26.1"]
BUCKETS = ["prod-datalake-raw", "ml-checkpoints", "cloudtrail-logs-111122223333", "web-assets",
           "finance-reports-2025"]
NOISE = [  # (eventName, eventSource, weight)
    ("DescribeInstances", "ec2.amazonaws.com", 16), ("GetObject", "s3.amazonaws.com", 22),
    ("AssumeRole", "sts.amazonaws.com", 12), ("Decrypt", "kms.amazonaws.com", 12),
    ("ListBuckets", "s3.amazonaws.com", 4), ("GetCallerIdentity", "sts.amazonaws.com", 6),
    ("DescribeSecurityGroups", "ec2.amazonaws.com", 5), ("GetParameter", "ssm.amazonaws.com", 6),
    ("DescribeLogStreams", "logs.amazonaws.com", 4), ("PutObject", "s3.amazonaws.com", 6),
    ("ListRoles", "iam.amazonaws.com", 2), ("DescribeVolumes", "ec2.amazonaws.com", 3),
    ("GenerateDataKey", "kms.amazonaws.com", 2),
]
MODELS = [("anthropic.claude-3-5-sonnet-20240620-v1:0", 25), ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", 10),
          ("anthropic.claude-3-haiku-20240307-v1:0", 15),
          ("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-v2:1", 3),
          ("amazon.titan-text-express-v1", 15), ("meta.llama3-70b-instruct-v1:0", 12),
          ("mistral.mistral-large-2402-v1:0", 8), ("cohere.command-r-plus-v1:0", 6),
          ("amazon.titan-embed-text-v2:0", 6)]
INVOKE = [("InvokeModel", 45), ("Converse", 30), ("InvokeModelWithResponseStream", 15), ("ConverseStream", 10)]
RESTRICTED_TYPES = ["p5.48xlarge", "p4d.24xlarge", "p4de.24xlarge", "p5e.48xlarge", "p5en.48xlarge",
                    "p6-b200.48xlarge", "g6e.12xlarge", "g6e.xlarge"]
HARMLESS_TYPES = ["t3.micro", "t3.large", "m5.large", "m6i.2xlarge", "c6i.4xlarge", "r6g.xlarge",
                  "g4dn.xlarge", "g5.2xlarge", "p3.2xlarge", "g6.xlarge"]
LAUNCH = [("RunInstances", "ec2.amazonaws.com", 55), ("CreateTrainingJob", "sagemaker.amazonaws.com", 15),
          ("CreateFleet", "ec2.amazonaws.com", 8), ("RequestSpotInstances", "ec2.amazonaws.com", 7),
          ("CreateCapacityReservation", "ec2.amazonaws.com", 5), ("CreateEndpointConfig", "sagemaker.amazonaws.com", 5),
          ("ModifyInstanceAttribute", "ec2.amazonaws.com", 5)]


def user_identity(rnd, account):
    if rnd.random() < 0.5:
        role = rnd.choice(ROLES)
        session = rnd.choice(USERS) + "-" + hexid(rnd, 6)
        return {
            "type": "AssumedRole",
            "principalId": f"AROA{hexid(rnd, 16).upper()}:{session}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
            "accountId": account,
            "accessKeyId": f"ASIA{hexid(rnd, 16).upper()}",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": f"AROA{hexid(rnd, 16).upper()}",
                                  "arn": f"arn:aws:iam::{account}:role/{role}", "accountId": account,
                                  "userName": role},
                "attributes": {"creationDate": "2025-06-01T09:12:44Z",
                               "mfaAuthenticated": rnd.choice(["true", "false"])},
            },
        }
    user = rnd.choice(USERS)
    return {"type": "IAMUser", "principalId": f"AIDA{hexid(rnd, 16).upper()}",
            "arn": f"arn:aws:iam::{account}:user/{user}", "accountId": account,
            "accessKeyId": f"AKIA{hexid(rnd, 16).upper()}", "userName": user}


def tls(rnd, service):
    return {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"{service.split('.')[0]}.{rnd.choice(['us-east-1', 'us-west-2'])}.amazonaws.com"}


def noise_payload(rnd, name, account, region):
    if name == "DescribeInstances":
        return ({"instancesSet": {"items": [{"instanceId": f"i-0{hexid(rnd, 16)}"}]},
                 "filterSet": {"items": [{"name": "instance-state-name", "valueSet": {"items": [{"value": "running"}]}}]}},
                None, None)
    if name in ("GetObject", "PutObject"):
        b = rnd.choice(BUCKETS)
        key = f"year=2025/month=06/day=01/part-{rnd.randrange(100000):05d}-{hexid(rnd, 8)}.snappy.parquet"
        return ({"bucketName": b, "Host": f"{b}.s3.{region}.amazonaws.com", "key": key},
                {"x-amz-server-side-encryption": "aws:kms"} if name == "PutObject" else None,
                {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                 "bytesTransferredIn": 0 if name == "GetObject" else rnd.randrange(1 << 20),
                 "AuthenticationMethod": "AuthHeader", 
                 "bytesTransferredOut": rnd.randrange(1 << 22) if name == "GetObject" else 0})
    if name == "AssumeRole":
        role = rnd.choice(ROLES)
        return ({"roleArn": f"arn:aws:iam::{account}:role/{role}", "roleSessionName": f"session-{hexid(rnd, 8)}",
                 "durationSeconds": 3600},
                {"credentials": {"accessKeyId": f"ASIA{hexid(rnd, 16).upper()}", "sessionToken": hexid(rnd, 48),
                                 "expiration": "Jun 1, 2025, 11:00:00 AM"},
                 "assumedRoleUser": {"assumedRoleId": f"AROA{hexid(rnd, 16).upper()}:session",
                                     "arn": f"arn:aws:sts::{account}:assumed-role/{role}/session"}},
                None)
    if name in ("Decrypt", "GenerateDataKey"):
        return ({"encryptionAlgorithm": "SYMMETRIC_DEFAULT",
                 "encryptionContext": {"aws:s3:arn": f"arn:aws:s3:::{rnd.choice(BUCKETS)}"}},
                None, None)
    if name == "GetParameter":
        return ({"name": f"/prod/app/{rnd.choice(['db-url', 'feature-flags', 'api-endpoint'])}", "withDecryption": True},
                None, None)
    if name == "DescribeLogStreams":
        return ({"logGroupName": f"/aws/lambda/fn-{hexid(rnd, 6)}", "descending": True, "orderBy": "LastEventTime"},
                None, None)
    return (None, None, None)


def cloudtrail_record(rnd, i, prefix):
    account = rnd.choice(ACCOUNTS)
    region = pick_weighted(rnd, REGIONS)
    ip = source_ip(rnd)
    x = rnd.random()
    rec = {"eventVersion": "1.09", "userIdentity": user_identity(rnd, account),
           "eventTime": timestamp(i)}
    add_data = None
    resources = None
    if x < 0.01:  # launches
        name, service = pick_weighted(rnd, [((n, s), w) for n, s, w in LAUNCH])
        itype = rnd.choice(RESTRICTED_TYPES) if rnd.random() < 0.5 else rnd.choice(HARMLESS_TYPES)
        if service == "sagemaker.amazonaws.com":
            job = f"train-{hexid(rnd, 8)}"
            if name == "CreateTrainingJob":
                req = {"trainingJobName": job, "algorithmSpecification": {"trainingImage": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.3.0-gpu-py311", "trainingInputMode": "File"},
                       "roleArn": f"arn:aws:iam::{account}:role/MLTrainingRole",
                       "resourceConfig": {"instanceType": "ml." + itype, "instanceCount": rnd.randrange(1, 5), "volumeSizeInGB": 500},
                       "stoppingCondition": {"maxRuntimeInSeconds": 86400}}
                resp = {"trainingJobArn": f"arn:aws:sagemaker:{region}:{account}:training-job/{job}"}
            else:
                req = {"endpointConfigName": job, "productionVariants": [{"variantName": "AllTraffic", "modelName": "llm-7b", "initialInstanceCount": 1, "instanceType": "ml." + itype}]}
                resp = {"endpointConfigArn": f"arn:aws:sagemaker:{region}:{account}:endpoint-config/{job}"}
        elif name == "ModifyInstanceAttribute":
            req = {"instanceId": f"i-0{hexid(rnd, 16)}", "instanceType": {"value": itype}}
            resp = {"_return": True}
        elif name == "CreateFleet":
            req = {"CreateFleetRequest": {"Type": "instant", "TargetCapacitySpecification": {"TotalTargetCapacity": 2, "DefaultTargetCapacityType": "on-demand"},
                                          "LaunchTemplateConfigs": {"LaunchTemplateSpecification": {"LaunchTemplateId": f"lt-0{hexid(rnd, 16)}", "Version": "$Latest"},
                                                                    "Overrides": {"InstanceType": itype, "tag": 1}, "tag": 1}},
                   "instanceType": itype}
            resp = {"CreateFleetResponse": {"fleetId": f"fleet-{uuid(rnd)}", "requestId": uuid(rnd)}}
        elif name == "CreateCapacityReservation":
            req = {"CreateCapacityReservationRequest": {"InstanceType": itype, "InstancePlatform": "Linux/UNIX", "AvailabilityZone": region + "a", "InstanceCount": 4},
                   "instanceType": itype}
            resp = {"CreateCapacityReservationResponse": {"capacityReservation": {"capacityReservationId": f"cr-0{hexid(rnd, 16)}", "instanceType": itype, "state": "active"}}}
        else:  # RunInstances / RequestSpotInstances
            iid = f"i-0{hexid(rnd, 16)}"
            req = {"instancesSet": {"items": [{"imageId": f"ami-0{hexid(rnd, 16)}", "minCount": 1, "maxCount": 1}]},
                   "instanceType": itype, "blockDeviceMapping": {}, "monitoring": {"enabled": False},
                   "subnetId": f"subnet-0{hexid(rnd, 16)}", "disableApiTermination": False, "clientToken": uuid(rnd)}
            resp = {"requestId": uuid(rnd), "reservationId": f"r-0{hexid(rnd, 16)}", "ownerId": account, "groupSet": {},
                    "instancesSet": {"items": [{"instanceId": iid, "imageId": req["instancesSet"]["items"][0]["imageId"],
                                                "instanceState": {"code": 0, "name": "pending"}, "privateIpAddress": f"10.0.{rnd.randrange(256)}.{rnd.randrange(1, 255)}",
                                                "instanceType": itype, "launchTime": 1748772000000 + i,
                                                "placement": {"availabilityZone": region + "a", "tenancy": "default"}}]}}
        read_only = False
    elif x < 0.05:  # Bedrock
        name = pick_weighted(rnd, INVOKE)
        service = "bedrock.amazonaws.com"
        model = pick_weighted(rnd, MODELS)
        req = {"modelId": model}
        if name.startswith("Converse"):
            req["inferenceConfig"] = {"maxTokens": 1024, "temperature": 0.2}
        else:
            req["accept"] = "application/json"
            req["contentType"] = "application/json"
        resp = None
        add_data = {"inputTokens": rnd.randrange(20, 4000), "outputTokens": rnd.randrange(10, 1024),
                    "latencyMs": rnd.randrange(200, 9000)}
        read_only = False
    else:
        name, service = pick_weighted(rnd, [((n, s), w) for n, s, w in NOISE])
        req, resp, add_data = noise_payload(rnd, name, account, region)
        read_only = name not in ("PutObject", "AssumeRole", "Decrypt", "GenerateDataKey")
        if service == "s3.amazonaws.com" and req and "bucketName" in req:
            resources = [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{req['bucketName']}/{req['key']}"},
                         {"accountId": account, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{req['bucketName']}"}]
    rec["eventSource"] = service
    rec["eventName"] = name
    rec["awsRegion"] = region
    rec["sourceIPAddress"] = ip
    rec["userAgent"] = rnd.choice(AGENTS) if "." in ip[:4] or ip[0].isdigit() else service
    if rnd.random() < 0.015:  # failed calls
        rec["errorCode"] = rnd.choice(["AccessDenied", "Client.UnauthorizedOperation", "ThrottlingException"])
        rec["errorMessage"] = "User is not authorized to perform this operation"
    rec["requestParameters"] = req
    rec["responseElements"] = resp
    if add_data is not None:
        rec["additionalEventData"] = add_data
    rec["requestID"] = uuid(rnd)
    rec["eventID"] = f"{prefix}{i:08d}-{hexid(rnd, 8)}"
    rec["readOnly"] = read_only
    if resources:
        rec["resources"] = resources
    rec["eventType"] = "AwsApiCall"
    rec["managementEvent"] = service != "s3.amazonaws.com" or name == "ListBuckets"
    rec["recipientAccountId"] = account
    rec["eventCategory"] = "Management" if rec["managementEvent"] else "Data"
    rec["tlsDetails"] = tls(rnd, service)
    if rnd.random() < 0.1:
        rec["sessionCredentialFromConsole"] = "true"
    return rec


# ------------------------------------------------------------------------------------- gcp_audit
GCP_TYPES = ["a3-highgpu-8g", "a2-highgpu-1g", "a2-ultragpu-8g", "a3-megagpu-8g", "n2-standard-8",
             "e2-medium", "g2-standard-8", "n1-standard-4", "c3-standard-22"]
GCP_NOISE = ["v1.compute.instances.list", "storage.objects.get", "v1.compute.disks.get",
             "google.iam.admin.v1.GetServiceAccount", "v1.compute.instances.get",
             "google.cloud.bigquery.v2.JobService.InsertJob"]
GCP_ZONES = ["us-central1-a", "europe-west4-b", "asia-east2-a", "us-east4-c", "me-central1-a"]


def gcp_record(rnd, i, prefix):
    project = rnd.choice(["example-ml-project", "prod-analytics", "research-sandbox"])
    zone = rnd.choice(GCP_ZONES)
    insert = rnd.random() < 0.2
    method = rnd.choice(["v1.compute.instances.insert", "beta.compute.instances.insert"]) if insert else rnd.choice(GCP_NOISE)
    name = f"vm-{hexid(rnd, 6)}"
    res = f"projects/{project}/zones/{zone}/instances/{name}"
    pp = {"@type": "type.googleapis.com/google.cloud.audit.AuditLog", "status": {},
          "authenticationInfo": {"principalEmail": rnd.choice(["trainer@example-ml-project.iam.gserviceaccount.com", "alice@example.com", "bob@example.org"])},
          "requestMetadata": {"callerIp": source_ip(rnd).replace("ec2.amazonaws.com", "private").replace("sagemaker.amazonaws.com", "private").replace("AWS Internal", "private"),
                              "callerSuppliedUserAgent": "google-cloud-sdk gcloud/473.0.0 command/gcloud.compute.instances.create",
                              "requestAttributes": {"time": timestamp(i, ms=True), "auth": {}}, "destinationAttributes": {}},
          "serviceName": "compute.googleapis.com", "methodName": method,
          "authorizationInfo": [{"permission": "compute.instances.create", "granted": True,
                                 "resourceAttributes": {"service": "compute", "name": res, "type": "compute.instances"}}],
          "resourceName": res}
    if insert:
        pp["request"] = {"@type": "type.googleapis.com/compute.instances.insert", "name": name,
                         "machineType": f"projects/{project}/zones/{zone}/machineTypes/{rnd.choice(GCP_TYPES)}",
                         "scheduling": {"onHostMaintenance": "TERMINATE", "automaticRestart": True},
                         "networkInterfaces": [{"network": f"projects/{project}/global/networks/default"}]}
        pp["response"] = {"@type": "type.googleapis.com/operation", "id": str(rnd.getrandbits(60)),
                          "name": f"operation-{hexid(rnd, 12)}", "operationType": "insert", "status": "RUNNING", "progress": "0"}
    pp["resourceLocation"] = {"currentLocations": [zone]}
    return {"protoPayload": pp, "insertId": f"{prefix}{i:08d}-{hexid(rnd, 6)}",
            "resource": {"type": "gce_instance", "labels": {"project_id": project, "zone": zone, "instance_id": str(rnd.getrandbits(62))}},
            "timestamp": timestamp(i, ms=True), "severity": "NOTICE",
            "logName": f"projects/{project}/logs/cloudaudit.googleapis.com%2Factivity",
            "receiveTimestamp": timestamp(i, ms=True),
            "operation": {"id": f"operation-{hexid(rnd, 12)}", "producer": "compute.googleapis.com", "first": True}}


# -------------------------------------------------------------------------------- azure_activity
AZ_SIZES = ["Standard_ND96isr_H100_v5", "Standard_ND96asr_v4", "Standard_NC24ads_A100_v4",
            "Standard_D4s_v5", "Standard_B2s", "Standard_NC6s_v3", "Standard_E8s_v5"]
AZ_LOCATIONS = ["eastus", "westeurope", "chinaeast2", "uaenorth", "japaneast"]


def azure_record(rnd, i, prefix):
    sub = f"{hexid(rnd, 8)}-095c-47d0-a96f-{hexid(rnd, 12)}"
    vm = f"vm-{hexid(rnd, 6)}"
    write = rnd.random() < 0.3
    op = "MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE" if write else rnd.choice(
        ["MICROSOFT.COMPUTE/VIRTUALMACHINES/READ", "MICROSOFT.STORAGE/STORAGEACCOUNTS/LISTKEYS/ACTION",
         "MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WRITE", "MICROSOFT.RESOURCES/DEPLOYMENTS/VALIDATE/ACTION"])
    props = {"eventCategory": "Administrative",
             "entity": f"/subscriptions/{sub}/resourceGroups/rg-train/providers/Microsoft.Compute/virtualMachines/{vm}",
             "message": op.lower(), "hierarchy": f"tenant/{sub}"}
    if write:
        props["requestbody"] = dumps({"location": rnd.choice(AZ_LOCATIONS), "properties": {
            "hardwareProfile": {"vmSize": rnd.choice(AZ_SIZES)},
            "storageProfile": {"imageReference": {"publisher": "microsoft-dsvm", "offer": "ubuntu-hpc", "sku": "2204", "version": "latest"}},
            "osProfile": {"computerName": "gpu-vm", "adminUsername": "azureuser"}}})
    ip = source_ip(rnd)
    if not ip[0].isdigit():
        ip = "198.51.100.7"
    return {"time": timestamp(i, ms=True), "resourceId": f"/SUBSCRIPTIONS/{sub.upper()}/RESOURCEGROUPS/RG-TRAIN/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/{vm.upper()}",
            "operationName": op, "category": "Administrative", "resultType": "Success", "resultSignature": "Succeeded.Created",
            "durationMs": str(rnd.randrange(5000)), "callerIpAddress": ip, "correlationId": f"{prefix}{i:08d}-{hexid(rnd, 6)}",
            "identity": {"authorization": {"action": op.title(), "scope": f"/subscriptions/{sub}"},
                         "claims": {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": rnd.choice(["li.wei@example.com", "alice@example.com"]),
                                    "name": "Example User", "appid": uuid(rnd), "ipaddr": ip}},
            "level": "Information", "location": "global", "properties": props}


# ------------------------------------------------------------------------------------- k8s_audit
GPU_PRODUCTS = ["NVIDIA-H100-80GB-HBM3", "NVIDIA-A100-SXM4-80GB", "Tesla-T4", "NVIDIA-L4", "NVIDIA-H20"]


def k8s_record(rnd, i, prefix):
    ns = rnd.choice(["tenant-dragon", "research", "web", "kube-system"])
    create = rnd.random() < 0.3
    verb = "create" if create else rnd.choice(["get", "list", "watch", "update"])
    pod = f"pod-{hexid(rnd, 6)}"
    ip = source_ip(rnd)
    if not ip[0].isdigit():
        ip = "10.0.0.12"
    rec = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
           "auditID": f"{prefix}{i:08d}-{hexid(rnd, 6)}", "stage": "ResponseComplete",
           "requestURI": f"/api/v1/namespaces/{ns}/pods" + ("" if create else f"/{pod}"), "verb": verb,
           "user": {"username": rnd.choice(["dragon-user", "system:serviceaccount:research:pipeline", "alice"]), "groups": ["system:authenticated"]},
           "sourceIPs": [ip], "userAgent": "kubectl/v1.29.3 (linux/amd64) kubernetes/6813625",
           "objectRef": {"resource": "pods", "apiVersion": "v1", "namespace": ns, "name": pod},
           "responseStatus": {"metadata": {}, "code": 201 if create else 200},
           "requestReceivedTimestamp": timestamp(i, ms=True), "stageTimestamp": timestamp(i, ms=True)}
    if create:
        rec["requestObject"] = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": pod, "namespace": ns},
                                "spec": {"containers": [{"name": "trainer", "image": "nvcr.io/nvidia/pytorch:24.04-py3",
                                                         "resources": {"limits": {"nvidia.com/gpu": str(rnd.choice([1, 2, 4, 8])), "memory": "512Gi"}}}],
                                         "restartPolicy": "Never", "nodeSelector": {"nvidia.com/gpu.product": rnd.choice(GPU_PRODUCTS)}}}
    rec["annotations"] = {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": "RBAC: allowed by RoleBinding",
                          "chipwatch.io/cluster": "gpu-east-1"}
    return rec


# ------------------------------------------------------------------------------------- gpu_alloc
GA_MODELS = ["NVIDIA H100 80GB HBM3", "gpu:nvidia_h100_80gb_hbm3", "Tesla T4", "NVIDIA A100-SXM4-80GB",
             "gpu:tesla_v100-sxm2-16gb", "NVIDIA H20", "gpu:nvidia_gh200_480gb", "NVIDIA L4"]


def gpu_alloc_record(rnd, i, prefix):
    rec = {"schema": "gpu-alloc/v1", "event_id": f"{prefix}{i:08d}-{hexid(rnd, 6)}", "time": timestamp(i),
           "action": rnd.choice(["allocate", "allocate", "release", "start"]),
           "cluster": rnd.choice(["hpc-east", "slurm-cluster1", "inference"]), "node": f"gpu-{rnd.randrange(200)}",
           "tenant": rnd.choice(["acme-research", "lab-vision", "web-team", "unknown-co"]),
           "user": rnd.choice(USERS), "gpu_model": rnd.choice(GA_MODELS), "gpu_count": rnd.choice([1, 2, 4, 8]),
           "job_id": f"slurm-{rnd.randrange(10**7)}", "region": rnd.choice(["us-east-1", "eu-west-1", "ap-east-1"])}
    ip = source_ip(rnd)
    if ip[0].isdigit():
        rec["src_ip"] = ip
    return rec


GENERATORS = {"cloudtrail": cloudtrail_record, "gcp_audit": gcp_record, "azure_activity": azure_record,
              "k8s_audit": k8s_record, "gpu_alloc": gpu_alloc_record}


def generate(fmt, count, seed, prefix=""):
    """Yields `count` JSON lines (without newline)."""
    rnd = random.Random(f"{fmt}:{seed}")
    gen = GENERATORS[fmt]
    prefix = prefix or {"cloudtrail": "ct", "gcp_audit": "gcp", "azure_activity": "az",
                        "k8s_audit": "k8s", "gpu_alloc": "ga"}[fmt] + f"-{seed}-"
    for i in range(count):
        yield dumps(gen(rnd, i, prefix))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--format", required=True, choices=sorted(GENERATORS))
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="-")
    ap.add_argument("--id-prefix", default="", help="event id prefix (default <format>-<seed>-)")
    args = ap.parse_args()
    out = sys.stdout if args.out == "-" else open(args.out, "w", buffering=1 << 20)
    buf = []
    for line in generate(args.format, args.count, args.seed, args.id_prefix):
        buf.append(line)
        if len(buf) >= 4096:
            out.write("\n".join(buf) + "\n")
            buf.clear()
    if buf:
        out.write("\n".join(buf) + "\n")
    if out is not sys.stdout:
        out.close()


if __name__ == "__main__":
    main()
