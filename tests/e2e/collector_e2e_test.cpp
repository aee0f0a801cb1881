// The real collector over real TLS on loopback: certificates made at test time, CSRs made with
// OpenSSL as a terminal would, the admin side driven through mamorictl's commands. Every test runs
// against both stores (a SQLite file, a database on the private PostgreSQL server); several
// collectors on one PostgreSQL database are tested at the end.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "collector_process.h"
#include "mamori/collector/client.h"
#include "mamori/collector/postgres_store.h"
#include "mamori/policy/bundle.h"
#include "mamori/policy/document.h"
#include "mamori/policy/signing.h"
#include "mamorictl/admin_commands.h"
#include "test_database.h"
#include "test_pki.h"

namespace mamori::collector {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using mamori::testing::Backend;
using mamori::testing::CollectorProcess;
using mamori::testing::KeyKind;
using mamori::testing::MakeCsr;

constexpr std::size_t kAgentBodyLimit = 64 * 1024;

struct Agent {
  std::string id;
  ClientOptions client;
};

json::object ParseBody(const ClientResponse& r) {
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  EXPECT_FALSE(ec) << "not JSON: " << r.body;
  return (!ec && v.is_object()) ? v.as_object() : json::object{};
}

std::string BundleFor(std::uint64_t version) {
  const std::string text = R"({"schema":1,"version":)" + std::to_string(version) +
                           R"(,"issued_at":"2026-01-01T00:00:00Z",)"
                           R"("expires_at":"2036-01-01T00:00:00Z","targets":["*"]})";
  const policy::ParseResult parsed = policy::ParsePolicy(text);
  EXPECT_TRUE(parsed.ok());
  static const policy::SigningKey key = policy::SigningKey::Generate();
  const policy::SigningKey* keys[] = {&key};
  return policy::SerializeBundle(policy::SignPolicy(policy::Canonicalize(*parsed.policy), keys));
}

class CollectorE2e : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/mamori-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    database_ = mamori::testing::TestDatabase::Create(GetParam(), dir_);
    collector_ = std::make_unique<CollectorProcess>(dir_, Config(database_->uri()));
    admin_token_ = collector_->CreateApiToken("admin");
    ca_pem_ = collector_->CaPem();
    ca_file_ = (dir_ / "ca.pem").string();
    std::ofstream(ca_file_) << ca_pem_;
    collector_->Start();
  }

  void TearDown() override {
    collector_->Stop();
    if (HasFailure()) std::cerr << "collector log:\n" << collector_->Log();
    collector_.reset();
    database_.reset();
    fs::remove_all(dir_);
  }

  static std::string Config(const std::string& database) {
    return R"({"database":")" + database +
           R"(","agent_port":0,"admin_port":0,"agent_max_body_bytes":)" +
           std::to_string(kAgentBodyLimit) +
           R"(,"long_poll_max_seconds":20,"read_timeout_seconds":10,)"
           R"("handshake_timeout_seconds":2,"io_threads":4})";
  }

  ClientOptions Admin(const std::string& token) const {
    ClientOptions o;
    o.url = collector_->admin_url();
    o.ca_pem = ca_pem_;
    o.bearer_token = token;
    return o;
  }

  ClientOptions AgentBase() const {
    ClientOptions o;
    o.url = collector_->agent_url();
    o.ca_pem = ca_pem_;
    return o;
  }

  // Runs a mamorictl admin command in-process with MAMORI_* set for this collector.
  int Ctl(std::vector<std::string> args, std::string* out = nullptr, std::string* err = nullptr,
          const std::string& token = "") {
    std::map<std::string, std::string> env = {
        {"MAMORI_COLLECTOR_URL", collector_->admin_url()},
        {"MAMORI_CA", ca_file_},
        {"MAMORI_TOKEN", token.empty() ? admin_token_ : token}};
    auto getenv = [&env](const char* name) -> const char* {
      auto it = env.find(name);
      return it == env.end() ? nullptr : it->second.c_str();
    };
    std::ostringstream o, e;
    EXPECT_TRUE(ctl::admin::IsAdminCommand(args));
    const int rc = ctl::admin::RunAdminCommand(args, o, e, getenv);
    if (out) *out = o.str();
    if (err) *err = e.str();
    return rc;
  }

  // Runs a mamorictl admin command with the certificate and key of `cert_dir` from MAMORI_CERT
  // and MAMORI_KEY, and no token anywhere.
  int CtlWithCertificate(const std::string& cert_dir, std::vector<std::string> args,
                         std::string* out, std::string* err) {
    std::map<std::string, std::string> env = {{"MAMORI_COLLECTOR_URL", collector_->admin_url()},
                                              {"MAMORI_CA", ca_file_},
                                              {"MAMORI_CERT", cert_dir + "/cert.pem"},
                                              {"MAMORI_KEY", cert_dir + "/key.pem"}};
    auto getenv = [&env](const char* name) -> const char* {
      auto it = env.find(name);
      return it == env.end() ? nullptr : it->second.c_str();
    };
    std::ostringstream o, e;
    const int rc = ctl::admin::RunAdminCommand(args, o, e, getenv);
    *out = o.str();
    *err = e.str();
    return rc;
  }

  static std::string ReadText(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

  std::string EnrollmentToken(const std::string& group, int uses) {
    const auto r = HttpsRequest(
        Admin(admin_token_), "POST", "/v1/admin/tokens",
        R"({"kind":"enrollment","group":")" + group + R"(","uses":)" + std::to_string(uses) + "}");
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(ParseBody(r)["token"].as_string());
  }

  ClientResponse EnrollRaw(const std::string& token, const std::string& csr,
                           const std::string& machine_id) {
    json::object body{{"token", token},
                      {"csr", csr},
                      {"facts",
                       {{"machine_id", machine_id},
                        {"hostname", "shimin-pc-01"},
                        {"serial", "PF3ABC12"},
                        {"os", "Debian GNU/Linux 12"}}}};
    return HttpsRequest(AgentBase(), "POST", "/v1/enroll", json::serialize(body));
  }

  Agent Enroll(const std::string& token, const std::string& machine_id,
               json::object* response = nullptr) {
    const auto key = MakeCsr(KeyKind::kP256, "i-would-like-to-be-someone-else");
    const auto r = EnrollRaw(token, key.csr_pem, machine_id);
    EXPECT_EQ(r.status, 201) << r.body;
    json::object body = ParseBody(r);
    if (response) *response = body;
    Agent agent;
    agent.id = std::string(body["terminal_id"].as_string());
    agent.client = AgentBase();
    agent.client.cert_pem = std::string(body["certificate"].as_string());
    agent.client.key_pem = key.key_pem;
    return agent;
  }

  static std::string ReportBody(std::uint64_t sequence, const std::string& usb = "pass") {
    return R"({"sequence":)" + std::to_string(sequence) +
           R"(,"policy_version":7,"checks":[{"id":"usb.authorized_default","result":")" + usb +
           R"(","observed":"authorized_default=)" + (usb == "pass" ? "0" : "1") +
           R"( on 2 root hubs"},{"id":"ntp.sync","result":"pass","observed":"synchronized"}],)"
           R"("events":[{"time":"2026-11-23T01:02:03Z","type":"usb.blocked",)"
           R"("data":{"vid":"0781","pid":"5567","seq":)" +
           std::to_string(sequence) + "}}]}";
  }

  fs::path dir_;
  std::unique_ptr<mamori::testing::TestDatabase> database_;
  std::unique_ptr<CollectorProcess> collector_;
  std::string admin_token_;
  std::string ca_pem_;
  std::string ca_file_;
};

TEST_P(CollectorE2e, EnrollReportAndReadItBackThroughMamorictl) {
  std::string out;
  ASSERT_EQ(Ctl({"token", "create", "--group", "shimin-ka", "--uses", "2", "--expires", "7d",
                 "--format", "json"},
                &out),
            0);
  const std::string token = std::string(json::parse(out).as_object()["token"].as_string());

  json::object enrolled;
  Agent agent = Enroll(token, "machine-aaaa", &enrolled);
  EXPECT_EQ(enrolled["group"], "shimin-ka");
  EXPECT_EQ(enrolled["cloned"], false);
  EXPECT_EQ(enrolled["ca"].as_string(), ca_pem_);
  // The CA chose the subject; the CSR's requested name was ignored.
  EXPECT_EQ(mamori::testing::SubjectField(agent.client.cert_pem, "CN"), agent.id);
  EXPECT_TRUE(mamori::testing::VerifiesAgainst(agent.client.cert_pem, ca_pem_, "sslclient"));

  auto r = HttpsRequest(agent.client, "POST", "/v1/reports", ReportBody(1, "pass"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(ParseBody(r)["ack"], 1);
  r = HttpsRequest(agent.client, "POST", "/v1/reports", ReportBody(2, "fail"));
  EXPECT_EQ(ParseBody(r)["ack"], 2);

  ASSERT_EQ(Ctl({"terminal", "show", agent.id}, &out), 0);
  EXPECT_NE(out.find("hostname: shimin-pc-01"), std::string::npos) << out;
  EXPECT_NE(out.find("policy_version: 7"), std::string::npos) << out;
  EXPECT_NE(out.find("usb.authorized_default"), std::string::npos) << out;
  ASSERT_EQ(Ctl({"terminal", "show", agent.id, "--format", "json"}, &out), 0);
  json::object shown = json::parse(out).as_object();
  const auto& checks = shown["checks"].as_array();
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_EQ(checks[1].as_object().at("id"), "usb.authorized_default");
  EXPECT_EQ(checks[1].as_object().at("result"), "fail");
  EXPECT_TRUE(checks[1].as_object().at("first_failed_at").is_string());
  EXPECT_EQ(shown["history"].as_array().size(), 3u);  // usb pass, ntp pass, usb fail

  ASSERT_EQ(Ctl({"fleet", "--format", "csv"}, &out), 0);
  EXPECT_EQ(out.rfind("\xEF\xBB\xBF"
                      "TERMINAL,GROUP,HOSTNAME",
                      0),
            0u)
      << out;
  EXPECT_NE(out.find(agent.id + ",shimin-ka,shimin-pc-01,"), std::string::npos) << out;
  EXPECT_NE(out.find(",7,1,1,0,no,-\r\n"), std::string::npos) << out;

  ASSERT_EQ(Ctl({"events", "--since", "2026-11-23T00:00:00Z", "--format", "json"}, &out), 0);
  EXPECT_EQ(json::parse(out).as_object()["events"].as_array().size(), 2u);
  ASSERT_EQ(Ctl({"events", "--since", "2026-11-24T00:00:00Z", "--format", "json"}, &out), 0);
  EXPECT_EQ(json::parse(out).as_object()["events"].as_array().size(), 0u);
  ASSERT_EQ(Ctl({"events"}, &out), 0);
  EXPECT_NE(out.find("usb.blocked"), std::string::npos);

  // The installed tool, with its settings from the environment.
  const auto installed = mamori::testing::RunProgram(
      {"/usr/bin/env", "MAMORI_COLLECTOR_URL=" + collector_->admin_url(), "MAMORI_CA=" + ca_file_,
       "MAMORI_TOKEN=" + admin_token_, MAMORICTL_BIN, "fleet"});
  EXPECT_EQ(installed.status, 0);
  EXPECT_EQ(installed.out.rfind("TERMINAL  ", 0), 0u) << installed.out;
  EXPECT_NE(installed.out.find(agent.id), std::string::npos) << installed.out;
}

TEST_P(CollectorE2e, ResentSequenceIsNotStoredTwice) {
  Agent agent = Enroll(EnrollmentToken("g", 1), "machine-1");
  for (int i = 0; i < 3; ++i) {
    const auto r = HttpsRequest(agent.client, "POST", "/v1/reports", ReportBody(1));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(ParseBody(r)["ack"], 1);
    EXPECT_EQ(ParseBody(r)["duplicate"], i > 0);
  }
  const auto events = HttpsRequest(Admin(admin_token_), "GET", "/v1/events", "");
  EXPECT_EQ(ParseBody(events)["events"].as_array().size(), 1u);
}

TEST_P(CollectorE2e, PolicyPushWakesALongPoll) {
  Agent agent = Enroll(EnrollmentToken("g", 1), "machine-1");
  ClientOptions poll_client = agent.client;
  poll_client.timeout_seconds = 30;
  const auto started = std::chrono::steady_clock::now();
  auto poll = std::async(std::launch::async, [&] {
    return HttpsRequest(poll_client, "GET", "/v1/policy?after=0&wait=15", "");
  });
  // Give the poll time to be waiting before the push.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const std::string bundle = BundleFor(7);
  const std::string path = (dir_ / "policy-7.bundle").string();
  std::ofstream(path) << bundle;
  std::string out, err;
  ASSERT_EQ(Ctl({"policy", "push", path}, &out, &err), 0) << err;
  EXPECT_NE(out.find("stored policy version 7"), std::string::npos) << out;

  const ClientResponse got = poll.get();
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, bundle);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));

  // The same or a lower version is refused; the stored one stays.
  EXPECT_EQ(Ctl({"policy", "push", path}, &out, &err), ctl::admin::kExitRefused);
  EXPECT_NE(err.find("409"), std::string::npos) << err;
  // Up to date: the poll waits its time out and answers 204.
  const auto idle = HttpsRequest(agent.client, "GET", "/v1/policy?after=7&wait=1", "");
  EXPECT_EQ(idle.status, 204);
  const auto behind = HttpsRequest(agent.client, "GET", "/v1/policy?after=3&wait=1", "");
  EXPECT_EQ(behind.body, bundle);
}

// Four I/O threads serve many mutual-TLS sessions at once: every report is stored exactly once,
// even while two connections race to deliver the same one, and a push wakes a long-poll waiting
// among them.
TEST_P(CollectorE2e, ConcurrentSessionsStoreEveryReportExactlyOnce) {
  constexpr int kAgents = 6;
  constexpr std::uint64_t kReports = 15;
  const std::string token = EnrollmentToken("g", kAgents);
  std::vector<Agent> agents;
  for (int i = 0; i < kAgents; ++i) agents.push_back(Enroll(token, "machine-" + std::to_string(i)));

  ClientOptions poll_client = agents[0].client;
  poll_client.timeout_seconds = 30;
  const auto started = std::chrono::steady_clock::now();
  auto poll = std::async(std::launch::async, [&] {
    return HttpsRequest(poll_client, "GET", "/v1/policy?after=0&wait=15", "");
  });
  // Two senders per terminal send the same sequences at once, as an agent re-sending from its
  // spool while its first attempt is still in flight would.
  std::vector<std::thread> senders;
  for (const Agent& agent : agents) {
    for (int copy = 0; copy < 2; ++copy) {
      senders.emplace_back([&agent] {
        for (std::uint64_t seq = 1; seq <= kReports; ++seq) {
          const auto r = HttpsRequest(agent.client, "POST", "/v1/reports", ReportBody(seq));
          if (r.status != 200) {
            ADD_FAILURE() << agent.id << " sequence " << seq << ": " << r.status << " " << r.body;
            continue;
          }
          // Whichever copy stored it, the acknowledgement covers this sequence.
          const auto ack = json::parse(r.body).as_object().at("ack").to_number<std::uint64_t>();
          EXPECT_GE(ack, seq) << agent.id;
        }
      });
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const std::string bundle = BundleFor(5);
  const std::string path = (dir_ / "policy-5.bundle").string();
  std::ofstream(path) << bundle;
  std::string out, err;
  ASSERT_EQ(Ctl({"policy", "push", path}, &out, &err), 0) << err;
  const ClientResponse got = poll.get();
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, bundle);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(14));
  for (std::thread& t : senders) t.join();

  const auto events = HttpsRequest(Admin(admin_token_), "GET", "/v1/events?limit=10000", "");
  ASSERT_EQ(events.status, 200) << events.body;
  std::map<std::pair<std::string, std::uint64_t>, int> stored;
  json::object listed = ParseBody(events);
  for (const auto& e : listed["events"].as_array()) {
    const auto& o = e.as_object();
    stored[{std::string(o.at("terminal").as_string()),
            o.at("sequence").to_number<std::uint64_t>()}]++;
  }
  EXPECT_EQ(stored.size(), kAgents * kReports);
  for (const Agent& agent : agents) {
    for (std::uint64_t seq = 1; seq <= kReports; ++seq) {
      EXPECT_EQ((stored[{agent.id, seq}]), 1) << agent.id << " sequence " << seq;
    }
  }
}

TEST_P(CollectorE2e, MalformedBundlesAreRefused) {
  const std::string good = BundleFor(9);
  json::object unsigned_bundle = json::parse(good).as_object();
  unsigned_bundle["signatures"] = json::array();
  json::object not_canonical = json::parse(good).as_object();
  not_canonical["policy"] = R"({"schema":1, "version":9,"issued_at":"2026-01-01T00:00:00Z",)"
                            R"("expires_at":"2036-01-01T00:00:00Z","targets":["*"]})";
  for (const std::string& body : {json::serialize(unsigned_bundle), json::serialize(not_canonical),
                                  std::string("{}"), std::string("not json")}) {
    const auto r = HttpsRequest(Admin(admin_token_), "POST", "/v1/admin/policy", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_TRUE(ParseBody(r).contains("error"));
  }
  EXPECT_EQ(HttpsRequest(Admin(admin_token_), "POST", "/v1/admin/policy", good).status, 201);
}

TEST_P(CollectorE2e, RevokedTerminalIsRefusedAtOnce) {
  Agent agent = Enroll(EnrollmentToken("g", 1), "machine-1");
  ASSERT_EQ(HttpsRequest(agent.client, "POST", "/v1/reports", ReportBody(1)).status, 200);
  std::string out, err;
  ASSERT_EQ(Ctl({"terminal", "revoke", agent.id}, &out, &err), 0) << err;
  const auto r = HttpsRequest(agent.client, "POST", "/v1/reports", ReportBody(2));
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("revoked"), std::string::npos);
  EXPECT_EQ(HttpsRequest(agent.client, "GET", "/v1/policy?wait=0", "").status, 403);
  EXPECT_EQ(Ctl({"terminal", "revoke", "t-nosuchterminal"}, &out, &err), ctl::admin::kExitRefused);
  EXPECT_NE(err.find("404"), std::string::npos);
  ASSERT_EQ(Ctl({"fleet"}, &out), 0);
  EXPECT_NE(out.find("revoked"), std::string::npos) << out;
}

TEST_P(CollectorE2e, ItReadTokenCannotCallAdminEndpoints) {
  const auto created = HttpsRequest(Admin(admin_token_), "POST", "/v1/admin/tokens",
                                    R"({"kind":"api","role":"it-read","label":"helpdesk"})");
  ASSERT_EQ(created.status, 201);
  const std::string it_read = std::string(ParseBody(created)["token"].as_string());
  const ClientOptions reader = Admin(it_read);

  EXPECT_EQ(HttpsRequest(reader, "GET", "/v1/fleet", "").status, 200);
  EXPECT_EQ(HttpsRequest(reader, "GET", "/v1/events", "").status, 200);
  EXPECT_EQ(HttpsRequest(reader, "GET", "/metrics", "").status, 200);
  EXPECT_EQ(
      HttpsRequest(reader, "POST", "/v1/admin/tokens", R"({"kind":"api","role":"admin"})").status,
      403);
  EXPECT_EQ(HttpsRequest(reader, "POST", "/v1/admin/policy", BundleFor(3)).status, 403);
  EXPECT_EQ(HttpsRequest(reader, "POST", "/v1/admin/terminals/t-x/revoke", "").status, 403);
  std::string out, err;
  EXPECT_EQ(Ctl({"token", "create", "--group", "g"}, &out, &err, it_read),
            ctl::admin::kExitRefused);
  EXPECT_NE(err.find("admin role"), std::string::npos) << err;
  EXPECT_EQ(Ctl({"fleet"}, &out, &err, it_read), 0) << err;

  EXPECT_EQ(HttpsRequest(Admin(""), "GET", "/v1/fleet", "").status, 401);
  std::string forged = it_read;
  forged.back() = forged.back() == '0' ? '1' : '0';
  EXPECT_EQ(HttpsRequest(Admin(forged), "GET", "/v1/fleet", "").status, 401);
  // An enrollment token is not an API token.
  EXPECT_EQ(HttpsRequest(Admin(EnrollmentToken("g", 1)), "GET", "/v1/fleet", "").status, 401);
}

// Client certificates of the admin CA as the second credential: the role is the certificate's,
// revocation holds at once, and neither listener takes the other's certificates.
TEST_P(CollectorE2e, AdminClientCertificatesCarryTheirRoleAndAreRevocable) {
  std::string out, err;
  const std::string admin_dir = (dir_ / "admin-cert").string();
  const std::string reader_dir = (dir_ / "reader-cert").string();
  ASSERT_EQ(Ctl({"admin", "cert", "issue", "--role", "admin", "--name", "soumu.admin", "--out",
                 admin_dir, "--format", "json"},
                &out, &err),
            0)
      << err;
  const json::object admin_cert = json::parse(out).as_object();
  ASSERT_EQ(Ctl({"admin", "cert", "issue", "--role", "it-read", "--name", "helpdesk", "--out",
                 reader_dir, "--format", "json"},
                &out, &err),
            0)
      << err;
  const std::string reader_id = std::string(json::parse(out).as_object()["id"].as_string());
  EXPECT_EQ(fs::status(admin_dir + "/key.pem").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  const std::string cert_pem = ReadText(admin_dir + "/cert.pem");
  EXPECT_EQ(mamori::testing::SubjectField(cert_pem, "CN"), "soumu.admin");
  EXPECT_EQ(mamori::testing::SubjectField(cert_pem, "OU"), "mamori-role-admin");
  EXPECT_EQ(admin_cert.at("role"), "admin");
  // Issued by the admin CA, which is not the CA terminals and the server certificate chain to.
  EXPECT_TRUE(mamori::testing::VerifiesAgainst(
      cert_pem, std::string(admin_cert.at("ca").as_string()), "sslclient"));
  EXPECT_FALSE(mamori::testing::VerifiesAgainst(cert_pem, ca_pem_, "sslclient"));
  // A second issue into the same directory replaces nothing.
  EXPECT_EQ(Ctl({"admin", "cert", "issue", "--role", "admin", "--name", "x", "--out", admin_dir},
                &out, &err),
            ctl::admin::kExitFile);
  EXPECT_NE(err.find("already exists"), std::string::npos) << err;

  // An admin certificate, and no token at all, pushes a policy.
  const std::string bundle_file = (dir_ / "bundle.json").string();
  std::ofstream(bundle_file) << BundleFor(5);
  ASSERT_EQ(CtlWithCertificate(admin_dir, {"policy", "push", bundle_file}, &out, &err), 0) << err;
  EXPECT_NE(out.find("stored policy version 5"), std::string::npos) << out;

  // An it-read certificate reads, and may not administer.
  EXPECT_EQ(CtlWithCertificate(reader_dir, {"fleet"}, &out, &err), 0) << err;
  std::ofstream(bundle_file) << BundleFor(6);
  EXPECT_EQ(CtlWithCertificate(reader_dir, {"policy", "push", bundle_file}, &out, &err),
            ctl::admin::kExitRefused);
  EXPECT_NE(err.find("HTTP 403"), std::string::npos) << err;
  EXPECT_NE(err.find("this certificate has role it-read"), std::string::npos) << err;
  EXPECT_EQ(CtlWithCertificate(reader_dir, {"admin", "cert", "revoke", reader_id}, &out, &err),
            ctl::admin::kExitRefused);

  // Revoked: refused at once.
  ASSERT_EQ(CtlWithCertificate(admin_dir, {"admin", "cert", "revoke", reader_id}, &out, &err), 0)
      << err;
  EXPECT_EQ(CtlWithCertificate(reader_dir, {"fleet"}, &out, &err), ctl::admin::kExitRefused);
  EXPECT_NE(err.find("HTTP 403"), std::string::npos) << err;
  EXPECT_NE(err.find("admin certificate " + reader_id + " is revoked"), std::string::npos) << err;
  ASSERT_EQ(Ctl({"admin", "cert", "list", "--format", "json"}, &out, &err), 0) << err;
  std::map<std::string, bool> revoked;
  const json::value listed = json::parse(out);
  for (const auto& c : listed.at("certificates").as_array()) {
    revoked[std::string(c.as_object().at("id").as_string())] =
        c.as_object().at("revoked").as_bool();
  }
  const std::map<std::string, bool> expected = {
      {std::string(admin_cert.at("id").as_string()), false}, {reader_id, true}};
  EXPECT_EQ(revoked, expected);

  // A terminal's certificate fails the admin listener's handshake, and an admin certificate the
  // agent listener's.
  Agent agent = Enroll(EnrollmentToken("g", 1), "machine-1");
  ClientOptions as_terminal = Admin("");
  as_terminal.cert_pem = agent.client.cert_pem;
  as_terminal.key_pem = agent.client.key_pem;
  EXPECT_THROW(HttpsRequest(as_terminal, "GET", "/v1/fleet", ""), ClientError);
  as_terminal.bearer_token = admin_token_;  // a valid token does not make it acceptable
  EXPECT_THROW(HttpsRequest(as_terminal, "GET", "/v1/fleet", ""), ClientError);
  ClientOptions admin_as_agent = AgentBase();
  admin_as_agent.cert_pem = cert_pem;
  admin_as_agent.key_pem = ReadText(admin_dir + "/key.pem");
  EXPECT_THROW(HttpsRequest(admin_as_agent, "POST", "/v1/reports", ReportBody(1)), ClientError);
  // Nor does a self-made certificate that names the admin role.
  const auto impostor = MakeCsr(KeyKind::kP256);
  ClientOptions forged = Admin("");
  forged.cert_pem =
      mamori::testing::SelfSignedCert(impostor.key_pem, "mallory", "mamori-role-admin");
  forged.key_pem = impostor.key_pem;
  EXPECT_THROW(HttpsRequest(forged, "GET", "/v1/fleet", ""), ClientError);
  // The agent listener still serves the terminal.
  EXPECT_EQ(HttpsRequest(agent.client, "POST", "/v1/reports", ReportBody(1)).status, 200);
}

// One TOTP code accepted on two terminals raises one mfa.code_reused alert, counted on /metrics;
// a re-sent report and a reused code of another step do not count again.
TEST_P(CollectorE2e, CodeReusedAlertsAreCountedOnMetrics) {
  const std::string token = EnrollmentToken("g", 2);
  Agent a = Enroll(token, "machine-a");
  Agent b = Enroll(token, "machine-b");
  auto login = [](std::uint64_t sequence, const std::string& step) {
    return R"({"sequence":)" + std::to_string(sequence) +
           R"(,"events":[{"time":"2026-11-23T01:02:03Z","type":"mfa.success",)"
           R"("data":{"user":"tanaka","step":")" +
           step + R"("}}]})";
  };
  auto alerts = [this] {
    const auto r = HttpsRequest(Admin(admin_token_), "GET", "/metrics", "");
    EXPECT_EQ(r.status, 200);
    const std::string name = "\nmamori_mfa_code_reused_alerts_total ";
    const std::size_t at = r.body.find(name);
    if (at == std::string::npos) return std::string("absent");
    return r.body.substr(at + name.size(), r.body.find('\n', at + 1) - at - name.size());
  };
  EXPECT_EQ(alerts(), "0");
  ASSERT_EQ(HttpsRequest(a.client, "POST", "/v1/reports", login(1, "59000001")).status, 200);
  EXPECT_EQ(alerts(), "0");
  ASSERT_EQ(HttpsRequest(b.client, "POST", "/v1/reports", login(1, "59000001")).status, 200);
  EXPECT_EQ(alerts(), "1");
  ASSERT_EQ(HttpsRequest(b.client, "POST", "/v1/reports", login(1, "59000001")).status, 200);
  ASSERT_EQ(HttpsRequest(b.client, "POST", "/v1/reports", login(2, "59000002")).status, 200);
  EXPECT_EQ(alerts(), "1");
  ASSERT_EQ(HttpsRequest(a.client, "POST", "/v1/reports", login(2, "59000002")).status, 200);
  EXPECT_EQ(alerts(), "2");
}

TEST_P(CollectorE2e, TerminalACannotPostAsB) {
  const std::string token = EnrollmentToken("g", 2);
  Agent a = Enroll(token, "machine-a");
  Agent b = Enroll(token, "machine-b");
  // A body that names another terminal is refused: identity comes only from the certificate.
  const std::string claim = R"({"terminal_id":")" + b.id + R"(","sequence":1})";
  const auto refused = HttpsRequest(a.client, "POST", "/v1/reports", claim);
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body.find("/terminal_id: unknown field"), std::string::npos) << refused.body;
  ASSERT_EQ(HttpsRequest(a.client, "POST", "/v1/reports", ReportBody(1, "fail")).status, 200);
  const auto shown_b = HttpsRequest(Admin(admin_token_), "GET", "/v1/terminals/" + b.id, "");
  EXPECT_EQ(ParseBody(shown_b)["last_sequence"], 0);
  EXPECT_EQ(ParseBody(shown_b)["checks"].as_array().size(), 0u);

  // No certificate: no report.
  EXPECT_EQ(HttpsRequest(AgentBase(), "POST", "/v1/reports", ReportBody(1)).status, 401);
  // A certificate naming B that the collector's CA did not sign fails the handshake.
  ClientOptions impostor = a.client;
  impostor.cert_pem = mamori::testing::SelfSignedCert(a.client.key_pem, b.id, "mamori-terminal");
  EXPECT_THROW(HttpsRequest(impostor, "POST", "/v1/reports", ReportBody(2)), ClientError);
  const auto still_b = HttpsRequest(Admin(admin_token_), "GET", "/v1/terminals/" + b.id, "");
  EXPECT_EQ(ParseBody(still_b)["last_sequence"], 0);
}

TEST_P(CollectorE2e, MalformedAndOversizedRequestsGetJsonErrors) {
  Agent agent = Enroll(EnrollmentToken("g", 1), "machine-1");
  auto r = HttpsRequest(agent.client, "POST", "/v1/reports", "{\"sequence\":");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(ParseBody(r)["error"].as_string().find("not valid JSON"), std::string::npos);
  r = HttpsRequest(agent.client, "POST", "/v1/reports", R"({"sequence":"one"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("/sequence"), std::string::npos);
  r = HttpsRequest(agent.client, "POST", "/v1/reports",
                   R"({"sequence":1,"checks":[{"id":"x","result":"maybe"}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("/checks/0/result"), std::string::npos);

  const std::string huge(kAgentBodyLimit + 1, ' ');
  r = HttpsRequest(agent.client, "POST", "/v1/reports", huge);
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(ParseBody(r).contains("error"));

  ClientOptions big_header = Admin(std::string(16 * 1024, 'x'));
  r = HttpsRequest(big_header, "GET", "/v1/fleet", "");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(ParseBody(r)["error"].as_string().find("header"), std::string::npos);

  // Not HTTP at all, over a real TLS connection: a 400 with a JSON error, then the connection ends.
  const std::string raw_request =
      "printf 'NOT AN HTTP REQUEST\\r\\n\\r\\n' | openssl s_client -quiet -tls1_3 -CAfile " +
      ca_file_ + " -connect " + collector_->admin_url().substr(8) + " 2>/dev/null";
  const auto garbage = mamori::testing::RunProgram({"/bin/sh", "-c", raw_request});
  EXPECT_EQ(garbage.out.rfind("HTTP/1.1 400", 0), 0u) << garbage.out;
  EXPECT_NE(garbage.out.find("{\"error\":\"malformed HTTP request"), std::string::npos)
      << garbage.out;

  r = EnrollRaw(EnrollmentToken("g", 1), "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n", "m");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("csr"), std::string::npos);
  r = EnrollRaw("mme_0000000000000000." + std::string(64, '0'), MakeCsr(KeyKind::kP256).csr_pem,
                "m");
  EXPECT_EQ(r.status, 401);
  // The collector still serves after all of that.
  EXPECT_EQ(HttpsRequest(agent.client, "POST", "/v1/reports", ReportBody(1)).status, 200);
}

TEST_P(CollectorE2e, SilentClientIsDroppedAfterTheHandshakeTimeout) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(
      std::stoi(collector_->agent_url().substr(collector_->agent_url().rfind(':') + 1))));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  const auto start = std::chrono::steady_clock::now();
  char byte;
  const ssize_t n = recv(fd, &byte, 1, 0);  // blocks until the collector hangs up
  const auto waited = std::chrono::steady_clock::now() - start;
  close(fd);
  EXPECT_LE(n, 0);
  EXPECT_GE(waited, std::chrono::milliseconds(1500));
  EXPECT_LT(waited, std::chrono::seconds(8));
  // Meanwhile and afterwards, others are served.
  Agent agent = Enroll(EnrollmentToken("g", 1), "machine-1");
  EXPECT_EQ(HttpsRequest(agent.client, "POST", "/v1/reports", ReportBody(1)).status, 200);
}

TEST_P(CollectorE2e, CloneIsRecordedAndFlaggedNotMerged) {
  const std::string token = EnrollmentToken("g", 3);
  Agent original = Enroll(token, "5f2b9c0d1e");
  json::object response;
  Agent clone = Enroll(token, "5f2b9c0d1e", &response);
  EXPECT_NE(clone.id, original.id);
  EXPECT_EQ(response["cloned"], true);
  EXPECT_EQ(response["cloned_from"].as_string(), original.id);
  // Both keep reporting under their own identity.
  EXPECT_EQ(HttpsRequest(original.client, "POST", "/v1/reports", ReportBody(1)).status, 200);
  EXPECT_EQ(HttpsRequest(clone.client, "POST", "/v1/reports", ReportBody(1)).status, 200);
  std::string out;
  ASSERT_EQ(Ctl({"fleet"}, &out), 0);
  EXPECT_NE(out.find("cloned-from:" + original.id), std::string::npos) << out;
  const auto metrics = HttpsRequest(Admin(admin_token_), "GET", "/metrics", "");
  EXPECT_NE(metrics.body.find("mamori_cloned_enrollments_total 1"), std::string::npos);
}

TEST_P(CollectorE2e, Kill9MidIngestLosesNoAcknowledgedReport) {
  Agent agent = Enroll(EnrollmentToken("g", 1), "machine-1");
  std::atomic<std::uint64_t> highest_ack{0};
  std::atomic<bool> stop{false};
  std::thread sender([&] {
    for (std::uint64_t seq = 1; !stop; ++seq) {
      try {
        const auto r = HttpsRequest(agent.client, "POST", "/v1/reports", ReportBody(seq));
        if (r.status != 200) break;
        highest_ack = json::parse(r.body).as_object()["ack"].to_number<std::uint64_t>();
      } catch (const ClientError&) {
        break;  // the collector is gone
      }
    }
  });
  while (highest_ack < 20) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  collector_->Kill9();
  stop = true;
  sender.join();
  const std::uint64_t acked = highest_ack;
  ASSERT_GE(acked, 20u);

  {
    auto store = OpenStore(database_->uri());
    for (std::uint64_t seq = 1; seq <= acked; ++seq) {
      EXPECT_TRUE(store->HasReport(agent.id, seq)) << "acknowledged report " << seq << " lost";
    }
  }
  // After a restart, the agent re-sends from its spool: nothing is stored twice.
  collector_->Start();
  agent.client.url = collector_->agent_url();
  for (std::uint64_t seq = 1; seq <= acked + 1; ++seq) {
    const auto r = HttpsRequest(agent.client, "POST", "/v1/reports", ReportBody(seq));
    ASSERT_EQ(r.status, 200);
  }
  const auto events = HttpsRequest(Admin(admin_token_), "GET", "/v1/events?limit=10000", "");
  std::map<std::uint64_t, int> per_sequence;
  json::object listed = ParseBody(events);
  for (const auto& e : listed["events"].as_array()) {
    per_sequence[e.as_object().at("sequence").to_number<std::uint64_t>()]++;
  }
  EXPECT_GE(per_sequence.size(), acked + 1);
  for (const auto& [seq, count] : per_sequence) EXPECT_EQ(count, 1) << "sequence " << seq;
}

TEST_P(CollectorE2e, FleetSummaryIsCurrentAfterEveryReport) {
  const std::string token = EnrollmentToken("g", 2);
  Agent a = Enroll(token, "machine-a");
  Agent b = Enroll(token, "machine-b");
  auto summary = [&] {
    const auto r = HttpsRequest(Admin(admin_token_), "GET", "/v1/fleet/summary", "");
    EXPECT_EQ(r.status, 200) << r.body;
    return ParseBody(r);
  };
  json::object totals = summary();
  EXPECT_EQ(totals["terminals"], 2);
  EXPECT_EQ(totals["unknown"], 2);
  ASSERT_EQ(HttpsRequest(a.client, "POST", "/v1/reports", ReportBody(1, "fail")).status, 200);
  totals = summary();
  EXPECT_EQ(totals["fail"], 1);
  EXPECT_EQ(totals["unknown"], 1);
  ASSERT_EQ(HttpsRequest(b.client, "POST", "/v1/reports", ReportBody(1, "pass")).status, 200);
  ASSERT_EQ(HttpsRequest(a.client, "POST", "/v1/reports", ReportBody(2, "pass")).status, 200);
  totals = summary();
  EXPECT_EQ(totals["pass"], 2);
  EXPECT_EQ(totals["fail"], 0);
  EXPECT_EQ(totals["unknown"], 0);
  EXPECT_EQ(totals["stale"], 0);
  const auto& versions = totals["policy_versions"].as_array();
  ASSERT_EQ(versions.size(), 1u);
  EXPECT_EQ(versions[0].as_object().at("policy_version"), 7);
  EXPECT_EQ(versions[0].as_object().at("terminals"), 2);

  ASSERT_EQ(HttpsRequest(Admin(admin_token_), "POST", "/v1/admin/terminals/" + b.id + "/revoke", "")
                .status,
            200);
  std::string out;
  ASSERT_EQ(Ctl({"fleet", "--summary"}, &out), 0);
  EXPECT_NE(out.find("revoked    1"), std::string::npos) << out;
  EXPECT_NE(out.find("pass       1"), std::string::npos) << out;
  EXPECT_NE(out.find("policy 7   1"), std::string::npos) << out;
}

// Several terminals at once, so that the reports in flight at the kill share transactions.
TEST_P(CollectorE2e, Kill9DuringGroupCommitLosesNoAcknowledgedReport) {
  constexpr int kAgents = 8;
  const std::string token = EnrollmentToken("g", kAgents);
  std::vector<Agent> agents;
  for (int i = 0; i < kAgents; ++i) agents.push_back(Enroll(token, "m-" + std::to_string(i)));
  std::vector<std::uint64_t> acked(kAgents, 0);
  std::atomic<std::uint64_t> total{0};
  std::vector<std::thread> senders;
  for (int i = 0; i < kAgents; ++i) {
    senders.emplace_back([&, i] {
      for (std::uint64_t seq = 1;; ++seq) {
        try {
          const auto r = HttpsRequest(agents[i].client, "POST", "/v1/reports", ReportBody(seq));
          if (r.status != 200) return;
          acked[i] = json::parse(r.body).as_object()["ack"].to_number<std::uint64_t>();
          ++total;
        } catch (const ClientError&) {
          return;  // the collector is gone
        }
      }
    });
  }
  while (total < 80) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  collector_->Kill9();
  for (auto& t : senders) t.join();

  auto store = OpenStore(database_->uri());
  for (int i = 0; i < kAgents; ++i) {
    for (std::uint64_t seq = 1; seq <= acked[i]; ++seq) {
      EXPECT_TRUE(store->HasReport(agents[i].id, seq))
          << "acknowledged report " << seq << " of " << agents[i].id << " lost";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sqlite, CollectorE2e, ::testing::Values(Backend::kSqlite),
                         [](const auto&) { return std::string("Sqlite"); });
INSTANTIATE_TEST_SUITE_P(Postgres, CollectorE2e, ::testing::Values(Backend::kPostgres),
                         [](const auto&) { return std::string("Postgres"); });

// A second collector on the same PostgreSQL database. Its connection string carries a password
// (the test server's trust authentication ignores it), which must never reach its log.
class TwoCollectors : public CollectorE2e {
 protected:
  static constexpr const char* kPassword = "pw-never-logged-5b1c";

  void SetUp() override {
    CollectorE2e::SetUp();
    if (HasFatalFailure()) return;
    const std::string uri = database_->uri();
    ASSERT_EQ(uri.rfind("postgresql://", 0), 0u);
    const std::string with_password =
        "postgresql://postgres:" + std::string(kPassword) + "@" + uri.substr(13);
    fs::create_directory(dir_ / "b");
    other_ = std::make_unique<CollectorProcess>(dir_ / "b", Config(with_password));
    other_->Start();
  }

  void TearDown() override {
    if (other_) {
      other_->Stop();
      if (HasFailure()) std::cerr << "second collector log:\n" << other_->Log();
      other_.reset();
    }
    CollectorE2e::TearDown();
  }

  ClientOptions OnOther(ClientOptions options, bool admin) const {
    options.url = admin ? other_->admin_url() : other_->agent_url();
    return options;
  }

  std::unique_ptr<CollectorProcess> other_;
};

TEST_P(TwoCollectors, ServeOneFleetAndAPushThroughOneWakesALongPollOnTheOther) {
  // Enrolled through the first; its certificate is good at the second (the CA is in the database).
  Agent agent = Enroll(EnrollmentToken("g", 1), "machine-1");
  ASSERT_EQ(HttpsRequest(OnOther(agent.client, false), "POST", "/v1/reports", ReportBody(1)).status,
            200);
  // The first sees that report: a resend through it is a duplicate.
  const auto resent = HttpsRequest(agent.client, "POST", "/v1/reports", ReportBody(1));
  ASSERT_EQ(resent.status, 200);
  EXPECT_EQ(ParseBody(resent)["duplicate"], true);

  ClientOptions poll_client = OnOther(agent.client, false);
  poll_client.timeout_seconds = 30;
  const auto started = std::chrono::steady_clock::now();
  auto poll = std::async(std::launch::async, [&] {
    return HttpsRequest(poll_client, "GET", "/v1/policy?after=0&wait=15", "");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const std::string bundle = BundleFor(11);
  ASSERT_EQ(HttpsRequest(Admin(admin_token_), "POST", "/v1/admin/policy", bundle).status, 201);
  const ClientResponse got = poll.get();
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, bundle);
  // Well within the collector's 10 s safety-net recheck: the notification woke it.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(4));

  // Revoked through the second, refused at once by the first.
  const auto revoked = HttpsRequest(OnOther(Admin(admin_token_), true), "POST",
                                    "/v1/admin/terminals/" + agent.id + "/revoke", "");
  EXPECT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_EQ(HttpsRequest(agent.client, "POST", "/v1/reports", ReportBody(2)).status, 403);

  const std::string log = other_->Log();
  EXPECT_EQ(log.find(kPassword), std::string::npos) << log;
  EXPECT_NE(log.find("\"database\":\"postgresql://postgres@"), std::string::npos) << log;
}

INSTANTIATE_TEST_SUITE_P(Postgres, TwoCollectors, ::testing::Values(Backend::kPostgres),
                         [](const auto&) { return std::string("Postgres"); });

}  // namespace
}  // namespace mamori::collector

namespace mamori::collector {
namespace {

TEST(CollectorCommandLine, HelpAndConfigErrorsNameTheProblem) {
  const auto help = mamori::testing::RunProgram({MAMORI_COLLECTOR_BIN, "--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("create-api-token"), std::string::npos);

  char pattern[] = "/tmp/mamori-cli-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const fs::path dir = pattern;
  std::ofstream(dir / "bad.json") << R"({"agent_port":"8443"})";
  const std::string command =
      std::string(MAMORI_COLLECTOR_BIN) + " --config " + (dir / "bad.json").string() + " 2>&1";
  const auto bad = mamori::testing::RunProgram({"/bin/sh", "-c", command});
  EXPECT_EQ(bad.status, 3);
  EXPECT_NE(bad.out.find("bad.json: /agent_port: expected a non-negative integer"),
            std::string::npos)
      << bad.out;
  const auto unknown = mamori::testing::RunProgram(
      {MAMORI_COLLECTOR_BIN, "--database", (dir / "c.db").string(), "frobnicate"});
  EXPECT_EQ(unknown.status, 2);
  EXPECT_FALSE(fs::exists(dir / "c.db"));  // a usage error changes nothing
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mamori::collector
