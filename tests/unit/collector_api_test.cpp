// The API without the transport: authentication by certificate fields and tokens, bundle form
// checks, strict request reading, and the text forms of mamorictl's reports.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mamori/collector/api.h"
#include "mamori/collector/bundle_check.h"
#include "mamori/collector/config.h"
#include "mamori/collector/sqlite_store.h"
#include "mamori/collector/tokens.h"
#include "mamori/policy/bundle.h"
#include "mamori/policy/document.h"
#include "mamorictl/table_output.h"
#include "test_pki.h"

namespace mamori::collector {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::string Bundle(std::uint64_t version, std::uint32_t interval = 300) {
  const std::string text = R"({"schema":1,"version":)" + std::to_string(version) +
                           R"(,"issued_at":"2026-01-01T00:00:00Z","expires_at":)"
                           R"("2036-01-01T00:00:00Z","targets":["*"],"compliance":)"
                           R"({"report_interval_seconds":)" +
                           std::to_string(interval) + "}}";
  const auto parsed = policy::ParsePolicy(text);
  static const policy::SigningKey key = policy::SigningKey::Generate();
  const policy::SigningKey* keys[] = {&key};
  return policy::SerializeBundle(policy::SignPolicy(policy::Canonicalize(*parsed.policy), keys));
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/mamori-api-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    store_ = OpenSqliteStore((dir_ / "c.db").string());
    ca_ = std::make_unique<CertificateAuthority>(CertificateAuthority::LoadOrCreate(*store_, 1000));
    ApiOptions options;
    options.mfa_key_file = (dir_ / "mfa.key").string();
    api_ = std::make_unique<Api>(*store_, *ca_, metrics_, options, [this] { return now_; });
    const NewToken admin = GenerateToken(kApiTokenPrefix);
    store_->CreateApiToken({admin.id, Role::kAdmin, "", 1}, admin.secret_hash);
    admin_ = "Bearer " + admin.text;
  }
  void TearDown() override { fs::remove_all(dir_); }

  HttpResponse Admin(std::string method, std::string target, std::string body = "") {
    return api_->HandleAdmin({std::move(method), std::move(target), admin_, std::move(body), {}});
  }

  // Enrolls through the API and returns the peer the TLS layer would report for it.
  PeerCertificate EnrollPeer(const std::string& machine_id, const std::string& group = "g") {
    const auto created =
        Admin("POST", "/v1/admin/tokens", R"({"kind":"enrollment","group":")" + group + R"("})");
    const std::string token(json::parse(created.body).at("token").as_string());
    json::object body{{"token", token},
                      {"csr", mamori::testing::MakeCsr(mamori::testing::KeyKind::kP256).csr_pem},
                      {"facts", {{"machine_id", machine_id}, {"hostname", "h"}}}};
    const auto r = api_->HandleAgent({"POST", "/v1/enroll", "", json::serialize(body), {}});
    EXPECT_EQ(r.status, 201) << r.body;
    const std::string id(json::parse(r.body).at("terminal_id").as_string());
    return {id, std::string(kTerminalCertOu), store_->FindTerminal(id)->cert_fingerprint};
  }

  HttpResponse Post(const PeerCertificate& peer, const std::string& body) {
    return api_->HandleAgent({"POST", "/v1/reports", "", body, peer});
  }

  fs::path dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<CertificateAuthority> ca_;
  Metrics metrics_;
  std::unique_ptr<Api> api_;
  std::string admin_;
  UnixTime now_ = 10000;
};

// The admin listener's certificate check, past the TLS layer: the record decides, and the subject's
// role must match it.
TEST_F(ApiTest, AdminCertificateIsAuthenticatedByItsRecord) {
  const auto admin_ca = CertificateAuthority::LoadOrCreateAdmin(*store_, 1000);
  auto as = [this](const PeerCertificate& peer, std::string method, std::string target) {
    return api_->HandleAdmin({std::move(method), std::move(target), "", "", peer});
  };
  const PeerCertificate some{"helpdesk", "mamori-role-it-read", std::string(64, 'a')};
  // Without the admin CA enabled, no certificate is taken, and none is issued.
  EXPECT_EQ(as(some, "GET", "/v1/fleet").status, 401);
  EXPECT_EQ(Admin("POST", "/v1/admin/certs", "{}").status, 503);
  api_->UseAdminCa(admin_ca);

  const std::string csr = mamori::testing::MakeCsr(mamori::testing::KeyKind::kP256).csr_pem;
  const auto issued =
      Admin("POST", "/v1/admin/certs",
            json::serialize(json::object{{"csr", csr}, {"role", "it-read"}, {"name", "helpdesk"}}));
  ASSERT_EQ(issued.status, 201) << issued.body;
  const json::value body = json::parse(issued.body);
  const std::string pem(body.at("certificate").as_string());
  const PeerCertificate reader{"helpdesk", mamori::testing::SubjectField(pem, "OU"),
                               std::string(body.at("fingerprint").as_string())};
  EXPECT_EQ(reader.organizational_unit, "mamori-role-it-read");
  EXPECT_EQ(as(reader, "GET", "/v1/fleet").status, 200);
  EXPECT_EQ(as(reader, "POST", "/v1/admin/policy").status, 403);
  EXPECT_EQ(as(some, "GET", "/v1/fleet").status, 401);  // chains, but never recorded
  PeerCertificate promoted = reader;
  promoted.organizational_unit = "mamori-role-admin";
  EXPECT_EQ(as(promoted, "GET", "/v1/fleet").status, 403);
  PeerCertificate terminal = reader;
  terminal.organizational_unit = std::string(kTerminalCertOu);
  EXPECT_EQ(as(terminal, "GET", "/v1/fleet").status, 403);
  now_ = 10000 + 366 * 86400;  // past its default 365 days
  EXPECT_EQ(as(reader, "GET", "/v1/fleet").status, 403);
  now_ = 10000;

  // Bad requests name the field.
  auto refused =
      Admin("POST", "/v1/admin/certs",
            json::serialize(json::object{{"csr", csr}, {"role", "root"}, {"name", "x"}}));
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body.find("/role"), std::string::npos) << refused.body;
  refused = Admin("POST", "/v1/admin/certs",
                  json::serialize(json::object{{"csr", csr}, {"role", "admin"}, {"name", "a/b"}}));
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body.find("/name"), std::string::npos) << refused.body;
  refused = Admin("POST", "/v1/admin/certs",
                  json::serialize(json::object{{"csr", "nope"}, {"role", "admin"}, {"name", "x"}}));
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body.find("csr:"), std::string::npos) << refused.body;
}

TEST_F(ApiTest, TerminalIsWhoItsRecordedCertificateSays) {
  const PeerCertificate peer = EnrollPeer("m1");
  EXPECT_EQ(Post(peer, R"({"sequence":1})").status, 200);

  PeerCertificate other_cert = peer;  // same CN, a certificate not recorded for it
  other_cert.fingerprint[0] = other_cert.fingerprint[0] == 'a' ? 'b' : 'a';
  EXPECT_EQ(Post(other_cert, R"({"sequence":2})").status, 403);
  PeerCertificate wrong_ou = peer;
  wrong_ou.organizational_unit = "mamori-collector";
  EXPECT_EQ(Post(wrong_ou, R"({"sequence":2})").status, 403);
  EXPECT_EQ(api_->HandleAgent({"POST", "/v1/reports", "", R"({"sequence":2})", {}}).status, 401);

  EXPECT_EQ(Admin("POST", "/v1/admin/terminals/" + peer.common_name + "/revoke").status, 200);
  EXPECT_EQ(Post(peer, R"({"sequence":2})").status, 403);
  EXPECT_EQ(store_->FindTerminal(peer.common_name)->last_sequence, 1u);
}

TEST_F(ApiTest, StrictReportReading) {
  const PeerCertificate peer = EnrollPeer("m1");
  auto error_of = [&](const std::string& body) {
    const auto r = Post(peer, body);
    EXPECT_EQ(r.status, 400) << body;
    return std::string(json::parse(r.body).at("error").as_string());
  };
  EXPECT_EQ(error_of(R"({"sequence":0})"), "/sequence: must be between 1 and 9223372036854775807");
  EXPECT_EQ(error_of(R"({"sequence":1.5})"), "/sequence: expected a non-negative integer");
  EXPECT_EQ(error_of(R"({"sequence":1,"extra":1})"), "/extra: unknown field");
  EXPECT_EQ(error_of(R"({"sequence":1,"events":[{"time":"yesterday","type":"x"}]})"),
            "/events/0/time: expected RFC 3339 UTC, e.g. 2026-11-23T09:00:00Z");
  EXPECT_EQ(error_of(R"({"sequence":1,"checks":[{"id":"a\u0001","result":"pass"}]})"),
            "/checks/0/id: contains a control character");
  EXPECT_EQ(error_of("[]"), "body: expected a JSON object");
  EXPECT_EQ(store_->FindTerminal(peer.common_name)->last_sequence, 0u);
}

TEST_F(ApiTest, StalenessFollowsThePolicyInterval) {
  const PeerCertificate peer = EnrollPeer("m1");
  ASSERT_EQ(Post(peer, R"({"sequence":1})").status, 200);
  auto stale = [&] {
    const auto r = Admin("GET", "/v1/fleet");
    return json::parse(r.body).at("terminals").as_array()[0].at("stale").as_bool();
  };
  now_ += 3 * 300;
  EXPECT_FALSE(stale());
  now_ += 1;
  EXPECT_TRUE(stale());
  // A policy with a longer interval makes the same silence normal.
  ASSERT_EQ(Admin("POST", "/v1/admin/policy", Bundle(1, 3600)).status, 201);
  EXPECT_FALSE(stale());
}

TEST_F(ApiTest, PollPolicyAnswersOnlyWithANewerBundle) {
  const PeerCertificate peer = EnrollPeer("m1");
  HttpRequest poll{"GET", "/v1/policy?after=0&wait=5", "", "", peer};
  PolicyPoll p = api_->PollPolicy(poll);
  EXPECT_FALSE(p.response);
  EXPECT_EQ(p.wait, std::chrono::seconds(5));
  int woken = 0;
  api_->OnPolicyStored([&woken] { ++woken; });
  const std::string bundle = Bundle(4);
  ASSERT_EQ(Admin("POST", "/v1/admin/policy", bundle).status, 201);
  EXPECT_EQ(woken, 1);
  p = api_->PollPolicy(poll);
  ASSERT_TRUE(p.response);
  EXPECT_EQ(p.response->body, bundle);
  poll.target = "/v1/policy?after=4&wait=999999";
  p = api_->PollPolicy(poll);
  EXPECT_FALSE(p.response);
  EXPECT_EQ(p.wait, std::chrono::seconds(ApiOptions{}.long_poll_max_seconds));
  poll.target = "/v1/policy?after=x";
  EXPECT_EQ(api_->PollPolicy(poll).response->status, 400);
}

TEST(BundleCheck, AcceptsASignedBundleAndNamesWhatIsWrongOtherwise) {
  const std::string good = Bundle(12);
  const auto info = InspectBundle(good);
  ASSERT_TRUE(std::holds_alternative<BundleInfo>(info)) << std::get<std::string>(info);
  EXPECT_EQ(std::get<BundleInfo>(info).version, 12u);
  EXPECT_EQ(std::get<BundleInfo>(info).hash,
            policy::PolicyHash(std::string(json::parse(good).at("policy").as_string())));

  auto error_of = [](const json::object& bundle) {
    const auto r = InspectBundle(json::serialize(bundle));
    EXPECT_TRUE(std::holds_alternative<std::string>(r));
    return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : "";
  };
  json::object b = json::parse(good).as_object();
  b["format"] = "other";
  EXPECT_NE(error_of(b).find("/format"), std::string::npos);
  b = json::parse(good).as_object();
  b["signatures"].as_array()[0].as_object()["signature"] = "AAAA";
  EXPECT_NE(error_of(b).find("/signatures/0/signature"), std::string::npos);
  b = json::parse(good).as_object();
  b["policy"] = R"({"schema":1,"version":0})";
  EXPECT_NE(error_of(b).find("/policy: invalid policy"), std::string::npos);
  EXPECT_TRUE(std::holds_alternative<std::string>(InspectBundle(std::string(3 << 20, ' '))));
}

TEST(CollectorConfig, AppliesFieldsAndNamesBadOnes) {
  CollectorConfig config;
  ApplyConfigJson(R"({"database":"/x.db","agent_port":0,"server_names":["a.example"]})", config);
  EXPECT_EQ(config.database, "/x.db");
  EXPECT_EQ(config.server.agent_port, 0);
  EXPECT_EQ(config.server_names, std::vector<std::string>{"a.example"});
  try {
    ApplyConfigJson(R"({"admin_port":70000})", config);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "/admin_port: must be between 0 and 65535");
  }
  EXPECT_THROW(ApplyConfigJson(R"({"databse":"typo"})", config), std::invalid_argument);
  EXPECT_GE(config.server.io_threads, 1);  // one per core unless configured
  ApplyConfigJson(R"({"io_threads":8})", config);
  EXPECT_EQ(config.server.io_threads, 8);
  try {
    ApplyConfigJson(R"({"io_threads":0})", config);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "/io_threads: must be between 1 and 256");
  }
}

TEST(TableOutput, CsvHasBomCrlfQuotingAndNoFormulas) {
  std::ostringstream out;
  ctl::WriteCsv(out, {{"HOST", "NOTE"}, {{"税務課-PC1", "a,b \"c\""}, {"=cmd()", "-"}}});
  EXPECT_EQ(out.str(),
            "\xEF\xBB\xBFHOST,NOTE\r\n"
            "税務課-PC1,\"a,b \"\"c\"\"\"\r\n"
            "\"'=cmd()\",-\r\n");
}

TEST(TableOutput, TableAlignsWideCharacters) {
  std::ostringstream out;
  ctl::WriteTable(out, {{"HOST", "X"}, {{"税務", "1"}, {"ab", "2"}}});
  EXPECT_EQ(out.str(), "HOST  X\n税務  1\nab    2\n");
}

HttpResponse GetMfa(Api& api, const PeerCertificate& peer, const std::string& after) {
  return api.HandleAgent({"GET", "/v1/mfa/credentials?after=" + after, "", "", peer});
}

TEST_F(ApiTest, MfaAdministrationNeedsTheAdminRole) {
  const NewToken reader = GenerateToken(kApiTokenPrefix);
  store_->CreateApiToken({reader.id, Role::kItRead, "", 1}, reader.secret_hash);
  for (const char* action : {"enroll", "reset", "unlock"}) {
    const auto r = api_->HandleAdmin({"POST",
                                      std::string("/v1/admin/mfa/users/alice/") + action,
                                      "Bearer " + reader.text,
                                      R"({"groups":["g"]})",
                                      {}});
    EXPECT_EQ(r.status, 403) << action << ": " << r.body;
  }
  EXPECT_FALSE(fs::exists(dir_ / "mfa.key"));  // nothing was enrolled
  EXPECT_TRUE(store_->MfaChanges("g", 0, 10).empty());
  const auto no_token = api_->HandleAdmin(
      {"POST", "/v1/admin/mfa/users/alice/enroll", "", R"({"groups":["g"]})", {}});
  EXPECT_EQ(no_token.status, 401);
}

TEST_F(ApiTest, MfaEnrollShowsTheUriOnceAndDeliversToTheGroupOnly) {
  const PeerCertificate in_group = EnrollPeer("m1", "g");
  const PeerCertificate elsewhere = EnrollPeer("m2", "h");
  const auto enrolled =
      Admin("POST", "/v1/admin/mfa/users/alice/enroll", R"({"groups":["g","x"]})");
  ASSERT_EQ(enrolled.status, 201) << enrolled.body;
  const std::string uri(json::parse(enrolled.body).at("otpauth_uri").as_string());
  const std::string prefix = "otpauth://totp/Mamori:alice?secret=";
  ASSERT_EQ(uri.substr(0, prefix.size()), prefix);
  const std::string secret = uri.substr(prefix.size(), uri.find('&') - prefix.size());
  EXPECT_EQ(secret.size(), 32u);  // 160 bits
  struct stat st;
  ASSERT_EQ(stat((dir_ / "mfa.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(Admin("POST", "/v1/admin/mfa/users/alice/enroll", R"({"groups":["g"]})").status, 409);

  const auto r = GetMfa(*api_, in_group, "0");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto changes = json::parse(r.body).at("changes").as_array();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].at("action"), "import");
  EXPECT_EQ(changes[0].at("user"), "alice");
  EXPECT_EQ(changes[0].at("credential").at("secret_base32").as_string(), secret);
  EXPECT_EQ(changes[0].at("credential").at("format"), "mamori-mfa-import");
  const std::string revision = std::to_string(changes[0].at("revision").as_int64());
  EXPECT_TRUE(json::parse(GetMfa(*api_, in_group, revision).body).at("changes").as_array().empty());
  EXPECT_TRUE(json::parse(GetMfa(*api_, elsewhere, "0").body).at("changes").as_array().empty());

  EXPECT_EQ(Admin("POST", "/v1/admin/mfa/users/alice/unlock").status, 200);
  auto later = json::parse(GetMfa(*api_, in_group, revision).body).at("changes").as_array();
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].at("unlocked_at_revision"), later[0].at("revision"));
  EXPECT_EQ(Admin("POST", "/v1/admin/mfa/users/alice/reset").status, 200);
  later = json::parse(GetMfa(*api_, in_group, revision).body).at("changes").as_array();
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].at("action"), "remove");
  EXPECT_FALSE(later[0].as_object().contains("credential"));
  EXPECT_EQ(Admin("POST", "/v1/admin/mfa/users/alice/reset").status, 404);
  EXPECT_EQ(Admin("POST", "/v1/admin/mfa/users/alice/unlock").status, 404);

  // A revoked terminal gets nothing.
  ASSERT_EQ(Admin("POST", "/v1/admin/terminals/" + in_group.common_name + "/revoke").status, 200);
  EXPECT_EQ(GetMfa(*api_, in_group, "0").status, 403);
}

TEST_F(ApiTest, MfaEnrollRefusesBadInputAndAnUnusableKey) {
  EXPECT_EQ(Admin("POST", "/v1/admin/mfa/users/alice/enroll", R"({"groups":[]})").status, 400);
  EXPECT_EQ(Admin("POST", "/v1/admin/mfa/users/alice/enroll", "").status, 400);
  EXPECT_EQ(
      Admin("POST", "/v1/admin/mfa/users/alice/enroll", R"({"groups":["g"],"digits":9})").status,
      400);
  EXPECT_EQ(Admin("POST", "/v1/admin/mfa/users/.x/enroll", R"({"groups":["g"]})").status, 400);
  // A key file others may read: refused, nothing stored.
  { std::ofstream(dir_ / "mfa.key") << std::string(32, 'k'); }
  chmod((dir_ / "mfa.key").c_str(), 0644);
  const auto r = Admin("POST", "/v1/admin/mfa/users/alice/enroll", R"({"groups":["g"]})");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("mfa.key"), std::string::npos) << r.body;
  EXPECT_TRUE(store_->MfaChanges("g", 0, 10).empty());
}

TEST_F(ApiTest, MfaUserInThePathIsPercentDecoded) {
  const auto r = Admin("POST", "/v1/admin/mfa/users/alice%40example/enroll", R"({"groups":["g"]})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(json::parse(r.body).at("user"), "alice@example");
  EXPECT_EQ(store_->MfaChanges("g", 0, 10).at(0).credential.user, "alice@example");
  EXPECT_EQ(Admin("POST", "/v1/admin/mfa/users/alice%2Fx/reset").status, 400);
}

// Query values are percent-decoded ("%3A" is ':'); a malformed escape is the caller's error.
TEST_F(ApiTest, QueryValuesArePercentDecodedAndBadEscapesRefused) {
  EXPECT_EQ(Admin("GET", "/v1/events?since=2026-01-01T00%3A00%3A00Z").status, 200);
  EXPECT_EQ(Admin("GET", "/v1/events?since=2026-01-01T00:00:00Z").status, 200);
  for (const char* bad : {"/v1/events?since=%3", "/v1/events?since=%zz", "/v1/events?x%=1"}) {
    const auto r = Admin("GET", bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_NE(r.body.find("percent-encoding"), std::string::npos) << bad << ": " << r.body;
  }
  EXPECT_EQ(Admin("GET", "/v1/events?since=2026-01-01T00%3A00%3A00").status, 400);
}

TEST_F(ApiTest, MfaDeliveryFailsClosedWhenTheKeyIsGone) {
  const PeerCertificate peer = EnrollPeer("m1", "g");
  ASSERT_EQ(Admin("POST", "/v1/admin/mfa/users/alice/enroll", R"({"groups":["g"]})").status, 201);
  fs::remove(dir_ / "mfa.key");
  EXPECT_EQ(GetMfa(*api_, peer, "0").status, 503);
  // Not re-created by a terminal's request: a new key could not open the stored secrets.
  EXPECT_FALSE(fs::exists(dir_ / "mfa.key"));
}

}  // namespace
}  // namespace mamori::collector
