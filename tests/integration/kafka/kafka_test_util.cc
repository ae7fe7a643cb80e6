#include "kafka_test_util.h"

#include <librdkafka/rdkafka.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <thread>

#include "sink/kafka_sink.h"

namespace chipwatch::kafka_test {
namespace {

struct Deleter {
  void operator()(rd_kafka_t* p) const { rd_kafka_destroy(p); }
  void operator()(rd_kafka_queue_t* p) const { rd_kafka_queue_destroy(p); }
  void operator()(rd_kafka_event_t* p) const { rd_kafka_event_destroy(p); }
  void operator()(rd_kafka_NewTopic_t* p) const { rd_kafka_NewTopic_destroy(p); }
  void operator()(rd_kafka_topic_t* p) const { rd_kafka_topic_destroy(p); }
};

std::string Env(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

}  // namespace

int BrokerPort() { return std::stoi(Env("KAFKA_PORT", "19092")); }

std::string BrokerAddress(int port) { return "127.0.0.1:" + std::to_string(port); }

std::string UniqueName(std::string_view prefix) {
  static std::atomic<int> counter{0};
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::string(prefix) + "-" + std::to_string(getpid()) + "-" +
         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now).count()) + "-" +
         std::to_string(counter.fetch_add(1));
}

Status CreateTopic(const std::string& brokers, const std::string& topic, int partitions) {
  std::array<char, 512> err{};
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err.data(), err.size()) !=
      RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return Status::Internal(err.data());
  }
  std::unique_ptr<rd_kafka_t, Deleter> rk(
      rd_kafka_new(RD_KAFKA_PRODUCER, conf, err.data(), err.size()));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return Status::Internal(err.data());
  }
  std::unique_ptr<rd_kafka_NewTopic_t, Deleter> new_topic(
      rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, err.data(), err.size()));
  if (new_topic == nullptr) return Status::Internal(err.data());
  std::unique_ptr<rd_kafka_queue_t, Deleter> queue(rd_kafka_queue_new(rk.get()));
  rd_kafka_NewTopic_t* topics[] = {new_topic.get()};
  rd_kafka_CreateTopics(rk.get(), topics, 1, nullptr, queue.get());
  std::unique_ptr<rd_kafka_event_t, Deleter> event(rd_kafka_queue_poll(queue.get(), 30000));
  if (event == nullptr) return Status::IoError("CreateTopics timed out");
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::IoError(rd_kafka_event_error_string(event.get()));
  }
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event.get());
  size_t count = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &count);
  for (size_t i = 0; i < count; ++i) {
    if (rd_kafka_topic_result_error(results[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::IoError(std::string("CreateTopics: ") +
                             rd_kafka_topic_result_error_string(results[i]));
    }
  }
  // Wait until the metadata shows every partition with a leader.
  std::unique_ptr<rd_kafka_topic_t, Deleter> rkt(
      rd_kafka_topic_new(rk.get(), topic.c_str(), nullptr));
  for (int attempt = 0; attempt < 100; ++attempt) {
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk.get(), 0, rkt.get(), &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      bool ready = md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                   md->topics[0].partition_cnt == partitions;
      for (int p = 0; ready && p < md->topics[0].partition_cnt; ++p) {
        ready = md->topics[0].partitions[p].leader >= 0;
      }
      rd_kafka_metadata_destroy(md);
      if (ready) return Status::Ok();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Status::IoError("topic " + topic + " has no leaders");
}

int RunKafkaLocal(int port, const std::string& action, bool keep_data) {
  std::string cache = Env("CHIPWATCH_CACHE", std::string(CHIPWATCH_SOURCE_DIR) + "/.cache");
  std::string command = "KAFKA_PORT=" + std::to_string(port) + " CHIPWATCH_CACHE='" + cache +
                        "' KAFKA_HEAP=256m " + (keep_data ? "KAFKA_KEEP_DATA=1 " : "") + "'" +
                        CHIPWATCH_SOURCE_DIR + "/scripts/kafka-local' " + action;
  int rc = std::system(command.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

KafkaSourceConfig SourceConfig(const std::string& brokers, const std::string& group,
                               const std::vector<std::string>& topics,
                               std::vector<KafkaProperty> properties) {
  KafkaSourceConfig config;
  config.brokers = brokers;
  config.group = group;
  for (const std::string& t : topics) config.topics.push_back({t, Format::kAuto, {}});
  config.start_from = StartFrom::kEarliest;
  config.properties = std::move(properties);
  return config;
}

KafkaSinkConfig SinkConfig(const std::string& brokers, const std::string& topic,
                           std::vector<KafkaProperty> properties) {
  KafkaSinkConfig config;
  config.brokers = brokers;
  config.topic = topic;
  config.properties = std::move(properties);
  return config;
}

SinkRecord TestRecord(int i) {
  SinkRecord record;
  record.key = "key-" + std::to_string(i);
  record.value = "value-" + std::to_string(i);
  record.headers = {{"seq", std::to_string(i)}, {"origin", "chipwatch-test"}};
  return record;
}

Status ProduceTestRecords(const std::string& brokers, const std::string& topic, int first,
                          int count) {
  auto sink = CreateKafkaSink(SinkConfig(brokers, topic), nullptr);
  if (!sink.ok()) return sink.status();
  std::atomic<int> failures{0};
  for (int i = first; i < first + count; ++i) {
    Status s = (*sink)->Deliver(TestRecord(i), [&failures](const Status& st) {
      if (!st.ok()) failures.fetch_add(1);
    });
    if (!s.ok()) return s;
  }
  if (!(*sink)->Flush(std::chrono::seconds(30))) return Status::IoError("flush timed out");
  if (failures.load() != 0) return Status::IoError("some deliveries failed");
  return Status::Ok();
}

Result<std::unique_ptr<TestConsumer>> TestConsumer::Create(const KafkaSourceConfig& config) {
  std::unique_ptr<TestConsumer> self(new TestConsumer());
  TestConsumer* t = self.get();
  ConsumerCallbacks callbacks;
  callbacks.on_assigned = [t](const std::vector<TopicPartition>& partitions) {
    ++t->assigned_events_;
    for (const TopicPartition& tp : partitions) t->assigned_.insert(tp.partition);
  };
  callbacks.on_revoked = [t](const std::vector<TopicPartition>& partitions, bool lost) {
    ++t->revoked_events_;
    t->revoked_partitions_ += static_cast<int>(partitions.size());
    t->any_lost_ = t->any_lost_ || lost;
    for (const TopicPartition& tp : partitions) t->assigned_.erase(tp.partition);
  };
  callbacks.on_error = [t](bool fatal, const std::string& message) {
    t->any_fatal_ = t->any_fatal_ || fatal;
    t->errors_.push_back(message);
  };
  auto consumer = KafkaConsumer::Create(config, std::move(callbacks));
  if (!consumer.ok()) return consumer.status();
  self->consumer_ = std::move(consumer).value();
  return self;
}

bool TestConsumer::PollOnce(std::chrono::milliseconds timeout) {
  std::unique_ptr<KafkaMessage> m = consumer_->Poll(timeout);
  if (m == nullptr) return false;
  received_.push_back({m->partition(), m->offset(), std::string(m->key()),
                       std::string(m->payload()), m->headers(), m->timestamp_ms()});
  return true;
}

void TestConsumer::PollUntilCount(size_t count, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (received_.size() < count && std::chrono::steady_clock::now() < deadline) {
    PollOnce(std::chrono::milliseconds(200));
  }
}

}  // namespace chipwatch::kafka_test
