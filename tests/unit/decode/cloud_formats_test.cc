// GCP audit, Azure Activity, Kubernetes audit and gpu-alloc/v1 decoding of the sample fixtures.
#include <gtest/gtest.h>

#include "decode_test_util.h"

namespace chipwatch::testing {
namespace {

using Samples = SamplesFixture;

// ---------------------------------------------------------------- gcp_audit

TEST_F(Samples, GcpA3Insert) {
  Load("gcp_audit.jsonl", Format::kGcpAudit);
  const DecodedEvent& e = Get("gcp-0001-a3-insert");
  EXPECT_EQ(e.format, Format::kGcpAudit);
  EXPECT_EQ(e.Str(FieldId::kFormat), "gcp_audit");
  EXPECT_EQ(e.Str(FieldId::kProvider), "gcp");
  EXPECT_EQ(e.Str(FieldId::kEventSource), "compute.googleapis.com");
  EXPECT_EQ(e.Str(FieldId::kAction), "v1.compute.instances.insert");
  EXPECT_EQ(e.Str(FieldId::kEventTime), "2024-05-03T02:10:11.482Z");
  EXPECT_EQ(e.Num(FieldId::kEventTime), 1714702211482);
  EXPECT_EQ(e.Str(FieldId::kPrincipal), "trainer@example-ml-project.iam.gserviceaccount.com");
  EXPECT_EQ(e.Str(FieldId::kSourceIp), "1.202.77.20");
  EXPECT_TRUE(e.source_addr.valid);
  EXPECT_EQ(e.Str(FieldId::kUserAgent),
            "google-cloud-sdk gcloud/473.0.0 command/gcloud.compute.instances.create");
  EXPECT_EQ(e.Str(FieldId::kAccount), "example-ml-project");
  EXPECT_EQ(e.Str(FieldId::kZone), "us-central1-a");
  EXPECT_EQ(e.Str(FieldId::kRegion), "us-central1");
  EXPECT_EQ(e.Str(FieldId::kOutcome), "success");
  EXPECT_EQ(e.Str(FieldId::kInstanceType), "a3-highgpu-8g");
  EXPECT_FALSE(e.Has(FieldId::kAcceleratorModel));
  EXPECT_EQ(e.Str(FieldId::kResourceName),
            "projects/example-ml-project/zones/us-central1-a/instances/llm-node-0");
}

TEST_F(Samples, GcpGuestAcceleratorsAndSetMachineType) {
  Load("gcp_audit.jsonl", Format::kGcpAudit);
  const DecodedEvent& beta = Get("gcp-0002-a2-beta-insert");
  EXPECT_EQ(beta.Str(FieldId::kAction), "beta.compute.instances.insert");
  EXPECT_EQ(beta.Str(FieldId::kInstanceType), "a2-highgpu-2g");
  EXPECT_EQ(beta.Str(FieldId::kAcceleratorModel), "nvidia-tesla-a100");
  EXPECT_EQ(beta.Num(FieldId::kAcceleratorCount), 2);
  EXPECT_EQ(beta.Str(FieldId::kRegion), "europe-west4");
  const DecodedEvent& t4 = Get("gcp-0003-t4-insert");
  EXPECT_EQ(t4.Str(FieldId::kInstanceType), "n1-standard-4");
  EXPECT_EQ(t4.Str(FieldId::kAcceleratorModel), "nvidia-tesla-t4");
  EXPECT_EQ(t4.Num(FieldId::kAcceleratorCount), 1);
  const DecodedEvent& resize = Get("gcp-0004-setmachinetype");
  EXPECT_EQ(resize.Str(FieldId::kAction), "v1.compute.instances.setMachineType");
  EXPECT_EQ(resize.Str(FieldId::kInstanceType), "a3-highgpu-8g");
}

TEST_F(Samples, GcpVertexCustomJobAndGkeNodePool) {
  Load("gcp_audit.jsonl", Format::kGcpAudit);
  const DecodedEvent& job = Get("gcp-0005-vertex-customjob");
  EXPECT_EQ(job.Str(FieldId::kEventSource), "aiplatform.googleapis.com");
  EXPECT_EQ(job.Str(FieldId::kInstanceType), "a3-highgpu-8g");
  EXPECT_EQ(job.Str(FieldId::kAcceleratorModel), "NVIDIA_H100_80GB");
  EXPECT_EQ(job.Num(FieldId::kAcceleratorCount), 8);
  EXPECT_EQ(job.Str(FieldId::kRegion), "us-central1");
  EXPECT_FALSE(job.Has(FieldId::kZone));
  EXPECT_EQ(job.Str(FieldId::kJobId),
            "projects/123456789012/locations/us-central1/customJobs/4242424242424242424");
  const DecodedEvent& pool = Get("gcp-0009-gke-nodepool");
  EXPECT_EQ(pool.Str(FieldId::kInstanceType), "a3-highgpu-8g");
  EXPECT_EQ(pool.Str(FieldId::kAcceleratorModel), "nvidia-h100-80gb");
  EXPECT_EQ(pool.Num(FieldId::kAcceleratorCount), 8);  // "8" as a string
  EXPECT_EQ(pool.Str(FieldId::kRegion), "asia-east2");
}

TEST_F(Samples, GcpFailureAndNoise) {
  Load("gcp_audit.jsonl", Format::kGcpAudit);
  const DecodedEvent& denied = Get("gcp-0006-insert-denied");
  EXPECT_EQ(denied.Str(FieldId::kOutcome), "failure");
  EXPECT_EQ(denied.Str(FieldId::kErrorCode), "7");
  EXPECT_EQ(denied.Str(FieldId::kErrorMessage).rfind("Required 'compute.instances.create'", 0), 0u);
  EXPECT_EQ(denied.Str(FieldId::kRegion), "asia-east2");
  const DecodedEvent& get = Get("gcp-0007-storage-get");
  EXPECT_EQ(get.Str(FieldId::kOutcome), "success");
  EXPECT_FALSE(get.Has(FieldId::kInstanceType));
  EXPECT_EQ(get.Str(FieldId::kRegion), "us");  // resource.labels.location, a multi-region
  const DecodedEvent& last = Get("gcp-0010-insert-last");
  EXPECT_FALSE(last.Has(FieldId::kInstanceType));
}

// ---------------------------------------------------------------- azure_activity

TEST_F(Samples, AzureVmWriteRequestBodyInString) {
  Load("azure_activity.jsonl", Format::kAzureActivity);
  const DecodedEvent& e = handler_.events[0];
  EXPECT_EQ(e.Str(FieldId::kEventId), "az-0001-nd-h100-chinaeast2");
  EXPECT_EQ(e.format, Format::kAzureActivity);
  EXPECT_EQ(e.Str(FieldId::kProvider), "azure");
  EXPECT_EQ(e.Str(FieldId::kAction), "MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE");
  EXPECT_EQ(e.Str(FieldId::kEventSource), "MICROSOFT.COMPUTE");
  EXPECT_EQ(e.Str(FieldId::kEventTime), "2024-05-04T01:02:03.1234567Z");
  EXPECT_EQ(e.Num(FieldId::kEventTime), 1714784523123);
  EXPECT_EQ(e.Str(FieldId::kAccount), "8A4DE8B5-095C-47D0-A96F-A75130C61D53");
  EXPECT_EQ(e.Str(FieldId::kResourceName), "ND-H100-01");
  EXPECT_EQ(e.Str(FieldId::kPrincipal), "li.wei@example.com");
  EXPECT_EQ(e.Str(FieldId::kSourceIp), "36.110.42.40");
  EXPECT_EQ(e.Str(FieldId::kRegion), "chinaeast2");
  EXPECT_EQ(e.Str(FieldId::kInstanceType), "Standard_ND96isr_H100_v5");
  EXPECT_EQ(e.Str(FieldId::kOutcome), "success");
  // The completion record has no body: top-level location "global" is not a region.
  const DecodedEvent& done = handler_.events[1];
  EXPECT_FALSE(done.Has(FieldId::kRegion));
  EXPECT_FALSE(done.Has(FieldId::kInstanceType));
}

TEST_F(Samples, AzureRestShapeVmssAmlAndAks) {
  Load("azure_activity.jsonl", Format::kAzureActivity);
  const DecodedEvent& vmss = Get("az-0004-vmss-a100");
  EXPECT_EQ(vmss.Str(FieldId::kAction), "Microsoft.Compute/virtualMachineScaleSets/write");
  EXPECT_EQ(vmss.Str(FieldId::kEventSource), "Microsoft.Compute");
  EXPECT_EQ(vmss.Str(FieldId::kPrincipal), "zhang.min@example.com");
  EXPECT_EQ(vmss.Str(FieldId::kSourceIp), "1.202.77.40");
  EXPECT_EQ(vmss.Str(FieldId::kInstanceType), "Standard_ND96amsr_A100_v4");
  EXPECT_EQ(vmss.Str(FieldId::kRegion), "eastasia");
  EXPECT_EQ(vmss.Str(FieldId::kAccount), "8a4de8b5-095c-47d0-a96f-a75130c61d53");
  EXPECT_EQ(vmss.Num(FieldId::kEventTime), 1714791600445);
  const DecodedEvent& aml = Get("az-0005-aml-compute");
  EXPECT_EQ(aml.Str(FieldId::kInstanceType), "STANDARD_ND96ASR_V4");
  EXPECT_EQ(aml.Str(FieldId::kRegion), "chinanorth3");
  EXPECT_EQ(aml.Str(FieldId::kResourceName), "GPU-CLUSTER");
  const DecodedEvent& aks = Get("az-0009-aks-agentpool");
  EXPECT_EQ(aks.Str(FieldId::kInstanceType), "Standard_NC24ads_A100_v4");
  EXPECT_EQ(aks.Str(FieldId::kRegion), "westeurope");
}

TEST_F(Samples, AzureFailureCaseInsensitiveKeysAndNoise) {
  Load("azure_activity.jsonl", Format::kAzureActivity);
  const DecodedEvent& failed = Get("az-0006-nc-h100-failed");
  EXPECT_EQ(failed.Str(FieldId::kOutcome), "failure");
  EXPECT_EQ(failed.Str(FieldId::kErrorCode), "Conflict");
  EXPECT_NE(failed.Str(FieldId::kErrorMessage).find("SkuNotAvailable"), std::string::npos);
  EXPECT_EQ(failed.Str(FieldId::kInstanceType), "Standard_NC40ads_H100_v5");
  const DecodedEvent& pascal = Get("az-0008-pascal-case");
  EXPECT_EQ(pascal.Str(FieldId::kAction), "MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE");
  EXPECT_EQ(pascal.Str(FieldId::kInstanceType), "Standard_ND96isr_H200_v5");
  EXPECT_EQ(pascal.Str(FieldId::kRegion), "chinanorth3");
  EXPECT_EQ(pascal.Str(FieldId::kPrincipal), "chen.jie@example.com");
  EXPECT_EQ(pascal.Str(FieldId::kSourceIp), "36.110.42.42");
  EXPECT_EQ(pascal.Num(FieldId::kEventTime), 1714806000000);
  const DecodedEvent& keys = Get("az-0007-listkeys");
  EXPECT_FALSE(keys.Has(FieldId::kInstanceType));
  EXPECT_EQ(keys.Str(FieldId::kOutcome), "success");
  const DecodedEvent& role = Get("az-0010-role-assignment");
  EXPECT_FALSE(role.Has(FieldId::kInstanceType));
  EXPECT_TRUE(role.source_addr.valid);
}

TEST(AzureActivity, RecordsEnvelopeAndObjectRequestBody) {
  std::string doc =
      "{\"records\": [\n"
      "  {\"time\": \"2024-05-04T01:00:00Z\", \"operationName\": "
      "\"Microsoft.Compute/virtualMachines/write\","
      "   \"correlationId\": \"env-1\", \"resourceId\": "
      "\"/subscriptions/s1/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/v\","
      "   \"properties\": {\"requestBody\": {\"location\": \"chinaeast2\", \"properties\": "
      "{\"hardwareProfile\": {\"vmSize\": \"Standard_ND96isr_H100_v5\"}}}}},\n"
      "  {\"time\": \"2024-05-04T01:00:01Z\", \"operationName\": "
      "\"Microsoft.Compute/virtualMachines/write\","
      "   \"correlationId\": \"env-2\", \"resourceId\": \"/subscriptions/s1/x\", \"properties\": "
      "{\"requestbody\": \"{not json\"}}\n"
      "]}";
  Decoder decoder;
  CapturingHandler handler;
  EXPECT_EQ(DecodeText(decoder, doc, Format::kAuto, handler, 10), 2u);
  ASSERT_EQ(handler.events.size(), 2u);
  EXPECT_EQ(handler.events[0].Str(FieldId::kInstanceType), "Standard_ND96isr_H100_v5");
  EXPECT_EQ(handler.events[0].Str(FieldId::kRegion), "chinaeast2");
  EXPECT_EQ(handler.events[0].Str(FieldId::kAccount), "s1");
  EXPECT_EQ(handler.events[0].origin.line, 11u);
  EXPECT_EQ(handler.events[1].origin.line, 12u);
  EXPECT_EQ(handler.events[1].origin.index, 1u);
  EXPECT_FALSE(handler.events[1].Has(FieldId::kInstanceType));  // broken body is ignored
}

// fuzz_decode_azure: a request body (a JSON document inside a string, which the record's depth
// limit does not see) of nested arrays recursed once per bracket and overflowed the stack.
TEST(AzureActivity, DeeplyNestedArraysInARequestBodyDoNotExhaustTheStack) {
  const size_t depth = 200000;
  std::string body =
      "{\\\"location\\\":\\\"chinaeast2\\\",\\\"properties\\\":{\\\"hardwareProfile\\\":"
      "{\\\"vmSize\\\":\\\"Standard_ND96isr_H100_v5\\\"}},\\\"tags\\\":";
  body.append(depth, '[');
  body.append(depth, ']');
  body += "}";
  const std::string record =
      "{\"time\": \"2024-05-04T01:00:00Z\", \"operationName\": "
      "\"Microsoft.Compute/virtualMachines/write\", \"correlationId\": \"deep-1\", "
      "\"resourceId\": \"/subscriptions/s1/resourceGroups/g/providers/Microsoft.Compute/"
      "virtualMachines/v\", \"properties\": {\"requestbody\": \"" +
      body + "\"}}\n";
  Decoder decoder;
  CapturingHandler handler;
  EXPECT_EQ(DecodeText(decoder, record, Format::kAzureActivity, handler, 1), 1u);
  ASSERT_EQ(handler.events.size(), 1u);
  EXPECT_EQ(handler.events[0].Str(FieldId::kInstanceType), "Standard_ND96isr_H100_v5");
  EXPECT_EQ(handler.events[0].Str(FieldId::kRegion), "chinaeast2");
}

// ---------------------------------------------------------------- k8s_audit

TEST_F(Samples, K8sPodWithStringGpuCountAndNodeSelector) {
  Load("k8s_audit.jsonl", Format::kK8sAudit);
  const DecodedEvent& e = Get("k8s-0001-pod-h100");
  EXPECT_EQ(e.format, Format::kK8sAudit);
  EXPECT_EQ(e.Str(FieldId::kProvider), "kubernetes");
  EXPECT_EQ(e.Str(FieldId::kEventSource), "kubernetes");
  EXPECT_EQ(e.Str(FieldId::kAction), "pods.create");
  EXPECT_EQ(e.Str(FieldId::kEventTime), "2024-05-05T01:00:00.123456Z");
  EXPECT_EQ(e.Num(FieldId::kEventTime), 1714870800123);
  EXPECT_EQ(e.Str(FieldId::kPrincipal), "dragon-user");
  EXPECT_EQ(e.Str(FieldId::kPrincipalType), "User");
  EXPECT_EQ(e.Str(FieldId::kTenant), "tenant-dragon");
  EXPECT_EQ(e.Str(FieldId::kSourceIp), "1.202.77.50");
  EXPECT_EQ(e.Num(FieldId::kResponseCode), 201);
  EXPECT_EQ(e.Str(FieldId::kOutcome), "success");
  EXPECT_EQ(e.Num(FieldId::kAcceleratorCount), 8);
  EXPECT_EQ(e.Str(FieldId::kAcceleratorModel), "NVIDIA-H100-80GB-HBM3");
  EXPECT_EQ(e.Str(FieldId::kResourceName), "llm-train-0");
  EXPECT_EQ(e.Str(FieldId::kCluster), "gpu-east-1");
}

TEST_F(Samples, K8sWorkloadsAffinityAndNumbers) {
  Load("k8s_audit.jsonl", Format::kK8sAudit);
  const DecodedEvent& job = Get("k8s-0002-job-a100");
  EXPECT_EQ(job.Str(FieldId::kAction), "jobs.create");
  EXPECT_EQ(job.Num(FieldId::kAcceleratorCount), 4);  // requests only, a number
  EXPECT_EQ(job.Str(FieldId::kAcceleratorModel), "NVIDIA-A100-SXM4-80GB");
  EXPECT_EQ(job.Str(FieldId::kPrincipalType), "ServiceAccount");
  const DecodedEvent& deploy = Get("k8s-0003-deploy-v100");
  EXPECT_EQ(deploy.Str(FieldId::kAction), "deployments.create");
  EXPECT_EQ(deploy.Num(FieldId::kAcceleratorCount), 1);  // limits win over requests
  EXPECT_EQ(deploy.Str(FieldId::kAcceleratorModel), "Tesla-V100-SXM2-16GB");
  const DecodedEvent& sts = Get("k8s-0004-sts-mi300x");
  EXPECT_EQ(sts.Str(FieldId::kAction), "statefulsets.create");
  EXPECT_EQ(sts.Num(FieldId::kAcceleratorCount), 8);
  EXPECT_EQ(sts.Str(FieldId::kAcceleratorModel), "AMD_Instinct_MI300X_OAM");
  const DecodedEvent& cron = Get("k8s-0005-cronjob-t4");
  EXPECT_EQ(cron.Str(FieldId::kAction), "cronjobs.create");
  EXPECT_EQ(cron.Num(FieldId::kAcceleratorCount), 2);
  EXPECT_EQ(cron.Str(FieldId::kAcceleratorModel), "nvidia-tesla-t4");
  const DecodedEvent& multi = Get("k8s-0010-pod-multi");
  EXPECT_EQ(multi.Num(FieldId::kAcceleratorCount), 8);  // 4 + "4" + sidecar without GPUs
  EXPECT_EQ(multi.Str(FieldId::kAcceleratorModel), "NVIDIA-H200");
  EXPECT_EQ(multi.Str(FieldId::kNode), "gpu-node-17");
  EXPECT_EQ(multi.Str(FieldId::kResourceName), "multi-gpu-");
  EXPECT_EQ(multi.Str(FieldId::kCluster), "gpu-west-2");
  EXPECT_FALSE(multi.source_addr.is_v4);
}

TEST_F(Samples, K8sForbiddenSubresourceAndNonResource) {
  Load("k8s_audit.jsonl", Format::kK8sAudit);
  const DecodedEvent& denied = Get("k8s-0006-pod-forbidden");
  EXPECT_EQ(denied.Str(FieldId::kOutcome), "failure");
  EXPECT_EQ(denied.Num(FieldId::kResponseCode), 403);
  EXPECT_EQ(denied.Str(FieldId::kErrorCode), "403");
  EXPECT_NE(denied.Str(FieldId::kErrorMessage).find("forbidden"), std::string::npos);
  EXPECT_EQ(denied.Num(FieldId::kAcceleratorCount), 8);
  EXPECT_EQ(Get("k8s-0007-pod-get").Str(FieldId::kAction), "pods.get");
  EXPECT_FALSE(Get("k8s-0007-pod-get").Has(FieldId::kAcceleratorCount));
  EXPECT_EQ(Get("k8s-0008-pod-exec").Str(FieldId::kAction), "pods/exec.create");
  const DecodedEvent& healthz = Get("k8s-0009-healthz");
  EXPECT_EQ(healthz.Str(FieldId::kAction), "get");
  EXPECT_EQ(healthz.Num(FieldId::kEventTime), 1714894200000);
}

// ---------------------------------------------------------------- gpu_alloc

TEST_F(Samples, GpuAllocRecords) {
  Load("gpu_alloc.jsonl", Format::kGpuAlloc);
  const DecodedEvent& e = Get("ga-0002");
  EXPECT_EQ(e.format, Format::kGpuAlloc);
  EXPECT_EQ(e.Str(FieldId::kProvider), "gpu_alloc");
  EXPECT_EQ(e.Str(FieldId::kEventSource), "gpu_alloc");
  EXPECT_EQ(e.Str(FieldId::kAction), "allocate");
  EXPECT_EQ(e.Num(FieldId::kEventTime), 1714957500250);
  EXPECT_EQ(e.Str(FieldId::kCluster), "slurm-cluster1");
  EXPECT_EQ(e.Str(FieldId::kNode), "dgx-04");
  EXPECT_EQ(e.Str(FieldId::kTenant), "lab-vision");
  EXPECT_EQ(e.Str(FieldId::kPrincipal), "wang.fang");
  EXPECT_EQ(e.Str(FieldId::kAcceleratorModel), "gpu:nvidia_h100_80gb_hbm3");
  EXPECT_EQ(e.Num(FieldId::kAcceleratorCount), 4);
  EXPECT_EQ(e.Str(FieldId::kJobId), "slurm-1234567");
  EXPECT_EQ(e.Str(FieldId::kRegion), "eu-west-1");
  EXPECT_EQ(e.Str(FieldId::kSourceIp), "36.110.42.60");
  EXPECT_EQ(e.Str(FieldId::kOutcome), "success");
  EXPECT_FALSE(Get("ga-0003").Has(FieldId::kSourceIp));
  const DecodedEvent& failed = Get("ga-0005");
  EXPECT_EQ(failed.Str(FieldId::kOutcome), "failure");
  EXPECT_EQ(failed.Str(FieldId::kErrorMessage), "insufficient free GPUs on partition a100");
  EXPECT_EQ(failed.Num(FieldId::kEventTime), 1714935600000);  // +08:00 offset
}

// ---------------------------------------------------------------- auto detection

TEST(AzureActivity, LogAnalyticsRowReadsOperationNameValueAndPropertiesD) {
  // A row of Log Analytics' AzureActivity table (Sentinel export): OperationName is localized.
  const std::string row =
      R"({"CallerIpAddress":"198.51.100.32","CorrelationId":"c-1","Claims":"","Claims_d":{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn":"erin@example.com"},"OperationNameValue":"MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE","Properties":"","Properties_d":{"statusCode":"Created","requestbody":"{\"location\":\"eastasia\",\"properties\":{\"hardwareProfile\":{\"vmSize\":\"Standard_ND96isr_H100_v5\"}}}"},"TimeGenerated":"2024-05-04T07:10:00.1234567Z","OperationName":"Create or Update Virtual Machine","ResourceId":"/SUBSCRIPTIONS/S-1/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/LA-VM","Type":"AzureActivity"})";
  Decoder decoder;
  CapturingHandler handler;
  DecodeText(decoder, row, Format::kAuto, handler);
  ASSERT_EQ(handler.events.size(), 1u) << handler.errors[0].message;
  const DecodedEvent& e = handler.events[0];
  EXPECT_EQ(e.format, Format::kAzureActivity);
  EXPECT_EQ(e.Str(FieldId::kAction), "MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE");
  EXPECT_EQ(e.Str(FieldId::kInstanceType), "Standard_ND96isr_H100_v5");
  EXPECT_EQ(e.Str(FieldId::kRegion), "eastasia");
  EXPECT_EQ(e.Str(FieldId::kPrincipal), "erin@example.com");
  EXPECT_EQ(e.Str(FieldId::kEventTime), "2024-05-04T07:10:00.1234567Z");
}

// A call naming several types keeps them all (any restricted one makes the call match); the
// primary instance.type stays the decoder's usual choice.
TEST(SeveralInstanceTypes, EksNodeGroupAndBatchComputeEnvironment) {
  Decoder decoder;
  CapturingHandler handler;
  DecodeText(
      decoder,
      R"({"eventVersion":"1.09","eventTime":"2025-09-12T08:00:00Z","eventSource":"eks.amazonaws.com","eventName":"CreateNodegroup","awsRegion":"ap-southeast-1","sourceIPAddress":"198.51.100.21","userIdentity":{"type":"IAMUser","accountId":"210987654321"},"requestParameters":{"nodegroupName":"gpu","instanceTypes":["m7i.2xlarge","p5.48xlarge","m7i.2xlarge"]},"eventID":"eks-1"})",
      Format::kCloudTrail, handler);
  DecodeText(
      decoder,
      R"({"eventVersion":"1.09","eventTime":"2025-09-12T08:00:00Z","eventSource":"batch.amazonaws.com","eventName":"CreateComputeEnvironment","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.22","userIdentity":{"type":"IAMUser","accountId":"210987654321"},"requestParameters":{"computeEnvironmentName":"train","computeResources":{"type":"EC2","instanceTypes":["g5.12xlarge","p4d.24xlarge"],"maxvCpus":768}},"eventID":"batch-1"})",
      Format::kCloudTrail, handler);
  ASSERT_EQ(handler.events.size(), 2u) << handler.errors[0].message;
  const DecodedEvent& eks = handler.events[0];
  EXPECT_EQ(eks.Str(FieldId::kInstanceType), "m7i.2xlarge");
  EXPECT_EQ(eks.instance_types, (std::vector<std::string>{"m7i.2xlarge", "p5.48xlarge"}));
  const DecodedEvent& batch = handler.events[1];
  EXPECT_EQ(batch.instance_types, (std::vector<std::string>{"g5.12xlarge", "p4d.24xlarge"}));
}

TEST(SeveralInstanceTypes, GkeClusterNodePoolsTpuAndAksAgentPools) {
  Decoder decoder;
  CapturingHandler handler;
  // GKE CreateCluster with a CPU default pool and an H100 pool.
  DecodeText(
      decoder,
      R"({"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","serviceName":"container.googleapis.com","methodName":"google.container.v1.ClusterManager.CreateCluster","authenticationInfo":{"principalEmail":"ops@example.com"},"requestMetadata":{"callerIp":"198.51.100.60"},"request":{"cluster":{"name":"train","nodePools":[{"name":"default","config":{"machineType":"e2-standard-4"}},{"name":"h100","config":{"machineType":"a3-highgpu-8g","accelerators":[{"acceleratorType":"nvidia-h100-80gb","acceleratorCount":"8"}]}}]}}},"resource":{"type":"gke_cluster","labels":{"project_id":"p","location":"us-central1"}},"timestamp":"2025-09-01T00:00:00Z","insertId":"gke-1"})",
      Format::kGcpAudit, handler);
  // Cloud TPU v2 CreateNode with acceleratorConfig rather than acceleratorType.
  DecodeText(
      decoder,
      R"({"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","serviceName":"tpu.googleapis.com","methodName":"google.cloud.tpu.v2.Tpu.CreateNode","authenticationInfo":{"principalEmail":"ops@example.com"},"requestMetadata":{"callerIp":"198.51.100.61"},"request":{"parent":"projects/p/locations/us-east5-a","nodeId":"tpu-1","node":{"acceleratorConfig":{"type":"V5P","topology":"2x2x1"},"runtimeVersion":"v2-alpha-tpuv5"}}},"resource":{"type":"tpu.googleapis.com/Node","labels":{"project_id":"p","zone":"us-east5-a"}},"timestamp":"2025-09-01T00:00:00Z","insertId":"tpu-1"})",
      Format::kGcpAudit, handler);
  // AKS managedClusters/write with two agent pools, request body as a string.
  DecodeText(
      decoder,
      R"({"time":"2025-09-01T00:00:00Z","resourceId":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/train","operationName":"Microsoft.ContainerService/managedClusters/write","category":"Administrative","resultType":"Start","callerIpAddress":"198.51.100.62","correlationId":"aks-1","identity":{"claims":{"name":"ops"}},"properties":{"requestbody":"{\"location\":\"eastus\",\"properties\":{\"agentPoolProfiles\":[{\"name\":\"sys\",\"vmSize\":\"Standard_D4s_v5\"},{\"name\":\"gpu\",\"vmSize\":\"Standard_ND96isr_H100_v5\"}]}}"}})",
      Format::kAzureActivity, handler);
  ASSERT_EQ(handler.events.size(), 3u) << (handler.errors.empty() ? "" : handler.errors[0].message);
  const DecodedEvent& gke = handler.events[0];
  EXPECT_EQ(gke.Str(FieldId::kInstanceType), "e2-standard-4");
  EXPECT_EQ(gke.instance_types, (std::vector<std::string>{"e2-standard-4", "a3-highgpu-8g"}));
  EXPECT_EQ(gke.Str(FieldId::kAcceleratorModel), "nvidia-h100-80gb");
  EXPECT_EQ(gke.Num(FieldId::kAcceleratorCount), 8);
  const DecodedEvent& tpu = handler.events[1];
  EXPECT_EQ(tpu.Str(FieldId::kAcceleratorModel), "V5P");
  const DecodedEvent& aks = handler.events[2];
  EXPECT_EQ(aks.Str(FieldId::kInstanceType), "Standard_D4s_v5");
  EXPECT_EQ(aks.instance_types,
            (std::vector<std::string>{"Standard_D4s_v5", "Standard_ND96isr_H100_v5"}));
}

// Quota-increase requests name the quota (quota.code); a GCP preference also names its GPUs.
TEST(QuotaRequests, QuotaCodeAndTheGpusAQuotaCovers) {
  Decoder decoder;
  CapturingHandler handler;
  DecodeText(
      decoder,
      R"({"eventVersion":"1.08","eventTime":"2025-09-01T09:00:00Z","eventSource":"servicequotas.amazonaws.com","eventName":"RequestServiceQuotaIncrease","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.200","userIdentity":{"type":"IAMUser","accountId":"123456789012"},"requestParameters":{"serviceCode":"ec2","quotaCode":"L-417A185B","desiredValue":768.0},"eventID":"q-1"})",
      Format::kCloudTrail, handler);
  DecodeText(
      decoder,
      R"({"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","serviceName":"cloudquotas.googleapis.com","methodName":"google.api.cloudquotas.v1.CloudQuotas.CreateQuotaPreference","requestMetadata":{"callerIp":"203.0.113.201"},"request":{"quotaPreference":{"quotaId":"GPUS-PER-GPU-FAMILY-per-project-region","dimensions":{"region":"us-central1","gpu_family":"NVIDIA_H100"}}}},"insertId":"q-2","timestamp":"2025-09-02T10:00:00Z","logName":"projects/p/logs/cloudaudit.googleapis.com%2Factivity"})",
      Format::kGcpAudit, handler);
  DecodeText(
      decoder,
      R"({"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","serviceName":"cloudquotas.googleapis.com","methodName":"google.api.cloudquotas.v1.CloudQuotas.UpdateQuotaPreference","request":{"quotaPreference":{"quotaId":"PREEMPTIBLE-NVIDIA-L4-GPUS-per-project-region"}}},"insertId":"q-3","timestamp":"2025-09-02T10:00:00Z"})",
      Format::kGcpAudit, handler);
  DecodeText(
      decoder,
      R"({"time":"2025-09-03T11:00:00Z","resourceId":"/subscriptions/s/providers/Microsoft.Compute/locations/eastus/providers/Microsoft.Quota/quotas/standardNDSH100v5Family","operationName":"Microsoft.Quota/quotas/write","category":"Administrative","resultType":"Start","callerIpAddress":"203.0.113.202","correlationId":"q-4"})",
      Format::kAzureActivity, handler);
  ASSERT_EQ(handler.events.size(), 4u) << (handler.errors.empty() ? "" : handler.errors[0].message);
  EXPECT_EQ(handler.events[0].Str(FieldId::kQuotaCode), "L-417A185B");
  EXPECT_EQ(handler.events[1].Str(FieldId::kQuotaCode), "GPUS-PER-GPU-FAMILY-per-project-region");
  EXPECT_EQ(handler.events[1].Str(FieldId::kAcceleratorModel), "NVIDIA_H100");
  EXPECT_EQ(handler.events[2].Str(FieldId::kAcceleratorModel),
            "PREEMPTIBLE-NVIDIA-L4-GPUS-per-project-region");
  EXPECT_EQ(handler.events[3].Str(FieldId::kQuotaCode), "standardNDSH100v5Family");
}

TEST(GcpAudit, BigQueryExportRow) {
  const std::string row =
      R"({"logName":"projects/p/logs/cloudaudit.googleapis.com%2Factivity","resource":{"type":"gce_instance","labels":{"project_id":"p","zone":"asia-east2-a"}},"protopayload_auditlog":{"serviceName":"compute.googleapis.com","methodName":"v1.compute.instances.insert","authenticationInfo":{"principalEmail":"dave@example.com"},"requestMetadata":{"callerIp":"198.51.100.90"},"requestJson":"{\"machineType\":\"zones/asia-east2-a/machineTypes/a2-highgpu-8g\",\"guestAccelerators\":[{\"acceleratorType\":\"x/nvidia-tesla-a100\",\"acceleratorCount\":8}]}"},"timestamp":"2024-05-03 12:00:00.123000 UTC","insertId":"bq-1"})";
  Decoder decoder;
  CapturingHandler handler;
  DecodeText(decoder, row, Format::kAuto, handler);
  ASSERT_EQ(handler.events.size(), 1u) << handler.errors[0].message;
  const DecodedEvent& e = handler.events[0];
  EXPECT_EQ(e.format, Format::kGcpAudit);
  EXPECT_EQ(e.Str(FieldId::kAction), "v1.compute.instances.insert");
  EXPECT_EQ(e.Str(FieldId::kInstanceType), "a2-highgpu-8g");
  EXPECT_EQ(e.Str(FieldId::kAcceleratorModel), "nvidia-tesla-a100");
  EXPECT_EQ(e.Num(FieldId::kAcceleratorCount), 8);
  EXPECT_EQ(e.Str(FieldId::kSourceIp), "198.51.100.90");
  EXPECT_EQ(e.Num(FieldId::kEventTime), 1714737600123);
  EXPECT_EQ(e.repairs, 0);
}

TEST(AutoDetect, EverySampleFileDetectsItsFormat) {
  const std::pair<const char*, Format> files[] = {
      {"cloudtrail.jsonl", Format::kCloudTrail},        {"gcp_audit.jsonl", Format::kGcpAudit},
      {"azure_activity.jsonl", Format::kAzureActivity}, {"k8s_audit.jsonl", Format::kK8sAudit},
      {"gpu_alloc.jsonl", Format::kGpuAlloc},           {"oci_audit.jsonl", Format::kOciAudit}};
  Decoder decoder;
  for (const auto& [file, format] : files) {
    CapturingHandler handler;
    DecodeJsonl(decoder, TestData(std::string("samples/") + file), Format::kAuto, handler);
    EXPECT_TRUE(handler.errors.empty()) << file << ": " << handler.errors[0].message;
    EXPECT_FALSE(handler.events.empty());
    for (const auto& e : handler.events) {
      EXPECT_EQ(e.format, format) << file << " " << e.Str(FieldId::kEventId);
      EXPECT_EQ(e.Str(FieldId::kFormat), FormatName(format));
    }
    for (const std::string& line : ReadLines(TestData(std::string("samples/") + file))) {
      EXPECT_EQ(decoder.Detect(line), format) << line.substr(0, 80);
    }
  }
}

TEST(AutoDetect, ShapeRules) {
  EXPECT_EQ(DetectFormat(kShapeEventVersion), Format::kCloudTrail);
  EXPECT_EQ(DetectFormat(kShapeEventSource | kShapeEventId), Format::kCloudTrail);
  EXPECT_EQ(DetectFormat(kShapeEventBridgeCloudTrail), Format::kCloudTrail);
  EXPECT_EQ(DetectFormat(kShapeEventSource), std::nullopt);
  EXPECT_EQ(DetectFormat(kShapeLogName | kShapeInsertId), Format::kGcpAudit);
  EXPECT_EQ(DetectFormat(kShapeProtoPayload), Format::kGcpAudit);
  EXPECT_EQ(DetectFormat(kShapeOperationName | kShapeResourceId), Format::kAzureActivity);
  EXPECT_EQ(DetectFormat(kShapeOperationName), std::nullopt);
  EXPECT_EQ(DetectFormat(kShapeAuditApiVersion | kShapeKindEvent), Format::kK8sAudit);
  EXPECT_EQ(DetectFormat(kShapeKindEvent), std::nullopt);
  EXPECT_EQ(DetectFormat(kShapeGpuAllocSchema), Format::kGpuAlloc);
  EXPECT_EQ(DetectFormat(0), std::nullopt);
  Decoder decoder;
  EXPECT_EQ(decoder.Detect(R"({"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"get"})"),
            Format::kK8sAudit);
  EXPECT_EQ(decoder.Detect(R"({"eventSource":"s3.amazonaws.com","eventID":"x"})"),
            Format::kCloudTrail);
  EXPECT_EQ(decoder.Detect(R"({"a":1})"), std::nullopt);
  EXPECT_EQ(decoder.Detect("[1]"), std::nullopt);
}

}  // namespace
}  // namespace chipwatch::testing
