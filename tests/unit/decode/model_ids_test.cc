// model.id for frontier models served by clouds other than Bedrock: Vertex AI publisher models in
// GCP audit logs, and Azure OpenAI / Foundry deployments in the Activity Log.
#include <gtest/gtest.h>

#include "decode_test_util.h"

namespace chipwatch::testing {
namespace {

DecodedEvent DecodeOne(const std::string& record, Format format) {
  Decoder decoder;
  CapturingHandler handler;
  DecodeText(decoder, record, format, handler);
  EXPECT_EQ(handler.events.size(), 1u) << (handler.errors.empty() ? "" : handler.errors[0].message);
  return handler.events.empty() ? DecodedEvent{} : handler.events[0];
}

std::string Vertex(const std::string& method, const std::string& resource,
                   const std::string& request) {
  return R"({"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog",)"
         R"("serviceName":"aiplatform.googleapis.com","methodName":")" +
         method + R"(","resourceName":")" + resource + R"(","request":)" + request +
         R"(},"insertId":"v1","timestamp":"2025-09-10T08:00:00Z",)"
         R"("logName":"projects/p/logs/cloudaudit.googleapis.com%2Fdata_access"})";
}

TEST(VertexModelId, FromTheResourceName) {
  const DecodedEvent e = DecodeOne(
      Vertex("google.cloud.aiplatform.v1.PredictionService.RawPredict",
             "projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514",
             "{}"),
      Format::kGcpAudit);
  EXPECT_EQ(e.Str(FieldId::kModelId), "publishers/anthropic/models/claude-sonnet-4@20250514");
  EXPECT_EQ(e.Str(FieldId::kResourceName),
            "projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514");
}

TEST(VertexModelId, FromRequestModelOrEndpoint) {
  EXPECT_EQ(DecodeOne(Vertex("google.cloud.aiplatform.v1.PredictionService.GenerateContent",
                             "projects/p/locations/us-central1",
                             R"({"model":"projects/p/locations/us-central1/publishers/google/)"
                             R"(models/gemini-2.5-pro"})"),
                      Format::kGcpAudit)
                .Str(FieldId::kModelId),
            "publishers/google/models/gemini-2.5-pro");
  EXPECT_EQ(DecodeOne(Vertex("google.cloud.aiplatform.v1.PredictionService.StreamRawPredict",
                             "projects/p/locations/us-east5",
                             R"({"endpoint":"projects/p/locations/us-east5/publishers/)"
                             R"(anthropic/models/claude-opus-4@20250514:streamRawPredict"})"),
                      Format::kGcpAudit)
                .Str(FieldId::kModelId),
            "publishers/anthropic/models/claude-opus-4@20250514");
}

TEST(VertexModelId, NotForOtherResources) {
  const DecodedEvent e = DecodeOne(
      Vertex("google.cloud.aiplatform.v1.PredictionService.Predict",
             "projects/p/locations/us-central1/endpoints/123",
             R"({"model":"mypublishers/x/models/y","endpoint":"projects/p/endpoints/1"})"),
      Format::kGcpAudit);
  EXPECT_FALSE(e.Has(FieldId::kModelId));
}

std::string AzureDeployment(const std::string& body) {
  return R"({"time":"2025-09-10T09:00:00Z","resourceId":"/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG/)"
         R"(PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/A/DEPLOYMENTS/D",)"
         R"("operationName":"MICROSOFT.COGNITIVESERVICES/ACCOUNTS/DEPLOYMENTS/WRITE",)"
         R"("correlationId":"c1","resultType":"Success","properties":{"requestbody":)" +
         body + "}}";
}

TEST(AzureModelId, FromTheDeploymentRequestBody) {
  EXPECT_EQ(DecodeOne(AzureDeployment(R"("{\"sku\":{\"name\":\"Standard\"},\"properties\":)"
                                      R"({\"model\":{\"format\":\"OpenAI\",\"name\":\"gpt-4o\",)"
                                      R"(\"version\":\"2024-11-20\"}}}")"),
                      Format::kAzureActivity)
                .Str(FieldId::kModelId),
            "OpenAI/gpt-4o");
  // A body already parsed into an object, and a model without format.
  EXPECT_EQ(DecodeOne(AzureDeployment(R"({"properties":{"model":{"name":"claude-sonnet-4-5"}}})"),
                      Format::kAzureActivity)
                .Str(FieldId::kModelId),
            "claude-sonnet-4-5");
}

TEST(AzureModelId, OnlyForCognitiveServices) {
  const std::string vm =
      R"({"time":"2025-09-10T09:00:00Z","operationName":"Microsoft.Compute/virtualMachines/write",)"
      R"("correlationId":"c2","properties":{"requestbody":{"properties":{"model":{"name":"x"}}}}})";
  EXPECT_FALSE(DecodeOne(vm, Format::kAzureActivity).Has(FieldId::kModelId));
}

}  // namespace
}  // namespace chipwatch::testing
