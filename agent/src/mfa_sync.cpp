#include "mamori/agent/mfa_sync.h"

#include <openssl/crypto.h>

#include <boost/json.hpp>
#include <cstdio>
#include <random>

#include "enrollment_client.h"
#include "mamori/agent/mfa_admin.h"
#include "mamori/collector/client.h"

namespace mamori::agent {
namespace {

namespace json = boost::json;
using platform::Status;

constexpr char kStateFile[] = "mfa-sync.json";
constexpr std::size_t kMaxStateBytes = 4096;
constexpr int kTimeoutSeconds = 60;

// A string that holds secrets: wiped when it goes out of scope.
struct Wiped {
  std::string text;
  ~Wiped() { OPENSSL_cleanse(text.data(), text.size()); }
};

Status Fail(std::string message) { return Status::Error(-1, "mfa sync: " + std::move(message)); }

std::time_t Now() { return std::time(nullptr); }

bool SameSecret(const SecretBytes& a, const SecretBytes& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

struct Tally {
  std::size_t imported = 0, kept = 0, removed = 0, unlocked = 0;
  std::size_t total() const { return imported + kept + removed + unlocked; }
};

}  // namespace

MfaSync::MfaSync(Enrollment enrollment, CredentialStore& store, EventJournal& journal,
                 IntervalFn interval, Options options)
    : enrollment_(std::move(enrollment)),
      store_(store),
      journal_(journal),
      interval_(std::move(interval)),
      options_(options) {}

MfaSync::~MfaSync() { Stop(); }

void MfaSync::Start() {
  thread_ = std::thread([this] { Run(); });
}

void MfaSync::Stop() {
  {
    std::lock_guard<std::mutex> guard(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status MfaSync::AppliedRevision(std::uint64_t* revision) {
  std::string text;
  Status s = store_.state_dir().Read(kStateFile, kMaxStateBytes, &text);
  if (!s.ok() && s.err() == ENOENT) {
    *revision = 0;
    return Status::Ok();
  }
  if (!s.ok()) return s;
  boost::system::error_code ec;
  const json::value v = json::parse(text, ec);
  const json::value* r = !ec && v.is_object() ? v.as_object().if_contains("revision") : nullptr;
  if (!r || !r->is_number()) {
    return Fail(store_.state_dir().path() + "/" + kStateFile + ": /revision: expected a number");
  }
  *revision = r->to_number<std::uint64_t>(ec);
  if (ec) return Fail(std::string(kStateFile) + ": /revision: out of range");
  return Status::Ok();
}

Status MfaSync::SyncOnce(std::size_t* changes) {
  *changes = 0;
  std::uint64_t applied = 0;
  Status s = AppliedRevision(&applied);
  if (!s.ok()) return s;
  const std::uint64_t start = applied;
  MfaAdmin admin(store_, journal_);
  Tally tally;
  // Written on every way out: what was applied stays applied even when a later change fails.
  auto finish = [&](Status result) -> Status {
    if (applied != start) {
      Status w = store_.state_dir().WriteAtomic(
          kStateFile, json::serialize(json::object{{"revision", applied}}) + "\n", 0600);
      if (!w.ok() && result.ok()) result = w;
      Event e{Now(),
              "mfa.credential.synced",
              {{"revision", std::to_string(applied)},
               {"imported", std::to_string(tally.imported)},
               {"unchanged", std::to_string(tally.kept)},
               {"removed", std::to_string(tally.removed)},
               {"unlocked", std::to_string(tally.unlocked)}}};
      Status j = journal_.Record(e);
      if (!j.ok() && result.ok()) result = j;
    }
    *changes = tally.total();
    return result;
  };

  for (bool more = true; more;) {
    const std::string target = "/v1/mfa/credentials?after=" + std::to_string(applied);
    Wiped body;
    try {
      collector::ClientResponse response = collector::HttpsRequest(
          EnrolledClientOptions(enrollment_, kTimeoutSeconds), "GET", target);
      body.text = std::move(response.body);
      if (response.status != 200) {
        return finish(Fail(enrollment_.url + target + ": HTTP " + std::to_string(response.status) +
                           ": " + body.text.substr(0, 200)));
      }
    } catch (const collector::ClientError& e) {
      return finish(Fail(e.what()));
    }
    boost::system::error_code ec;
    json::value page = json::parse(body.text, ec);
    const json::array* list = nullptr;
    if (!ec && page.is_object()) {
      if (const auto* c = page.as_object().if_contains("changes")) list = c->if_array();
    }
    if (!list) return finish(Fail(target + ": the answer has no /changes array"));
    const auto* more_value = page.as_object().if_contains("more");
    more = more_value && more_value->is_bool() && more_value->get_bool() && !list->empty();

    for (std::size_t i = 0; i < list->size(); ++i) {
      const std::string at = "/changes/" + std::to_string(i);
      const json::object* change = (*list)[i].if_object();
      const json::value* rev = change ? change->if_contains("revision") : nullptr;
      const json::value* user = change ? change->if_contains("user") : nullptr;
      const json::value* action = change ? change->if_contains("action") : nullptr;
      std::uint64_t revision = 0;
      if (rev && rev->is_number()) revision = rev->to_number<std::uint64_t>(ec);
      if (!rev || !rev->is_number() || ec || revision <= applied || !user || !user->is_string() ||
          !ValidUserName(user->get_string()) || !action || !action->is_string()) {
        return finish(Fail(target + ": " + at + ": expected a revision after " +
                           std::to_string(applied) + ", a valid user and an action"));
      }
      const std::string name(user->get_string());
      std::optional<CredentialRecord> held;
      {
        std::unique_ptr<platform::FileLock> lock;
        s = store_.LockUser(name, &lock);
        if (s.ok()) s = store_.Load(name, &held);
        if (!s.ok()) return finish(s);
      }
      if (action->get_string() == "remove") {
        if (held) {
          s = admin.Reset(name, Now());
          if (!s.ok()) return finish(s);
          ++tally.removed;
        }
      } else if (action->get_string() == "import") {
        const json::value* credential = change->if_contains("credential");
        const json::value* unlocked = change->if_contains("unlocked_at_revision");
        std::string error;
        std::optional<CredentialImport> imported;
        if (credential) {
          Wiped text{json::serialize(*credential)};
          imported = ParseCredentialImport(text.text, &error);
        }
        if (!imported || imported->user != name || !unlocked || !unlocked->is_number()) {
          return finish(Fail(target + ": " + at + "/credential: " +
                             (error.empty() ? "missing, or for another user" : error)));
        }
        bool same = false;
        if (held && held->totp == imported->totp && held->enrolled_at == imported->enrolled_at) {
          auto secret = store_.host_key().Open(held->secret, SecretBinding(name));
          same = secret && SameSecret(*secret, imported->secret);
        }
        if (same) {
          ++tally.kept;
          const std::uint64_t unlock_at = unlocked->to_number<std::uint64_t>(ec);
          if (!ec && unlock_at > applied && (held->failures > 0 || held->locked_until > 0)) {
            s = admin.Unlock(name, Now());
            if (!s.ok()) return finish(s);
            ++tally.unlocked;
          }
        } else {
          s = admin.Import(*imported, Now());
          if (!s.ok()) return finish(s);
          ++tally.imported;
        }
      } else {
        return finish(Fail(target + ": " + at + "/action: expected import or remove"));
      }
      applied = revision;
    }
    for (auto& v : page.as_object()["changes"].as_array()) {
      if (auto* c = v.as_object().if_contains("credential"); c && c->is_object()) {
        if (auto* b32 = c->as_object().if_contains("secret_base32"); b32 && b32->is_string()) {
          OPENSSL_cleanse(b32->as_string().data(), b32->as_string().size());
        }
      }
    }
  }
  return finish(Status::Ok());
}

void MfaSync::Run() {
  std::mt19937_64 rng(std::random_device{}());
  auto retry = options_.retry_initial;
  for (;;) {
    std::size_t changes = 0;
    Status s = SyncOnce(&changes);
    std::chrono::milliseconds wait = interval_();
    if (!s.ok()) {
      std::fprintf(stderr, "mamori-agent: %s\n", s.message().c_str());
      std::uniform_int_distribution<std::int64_t> jitter(retry.count() / 2, retry.count());
      wait = std::min(wait, std::chrono::milliseconds(jitter(rng)));
      retry = std::min(retry * 2, options_.retry_max);
    } else {
      retry = options_.retry_initial;
      if (changes > 0) {
        std::fprintf(stderr, "mamori-agent: mfa sync applied %zu credential changes\n", changes);
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait_for(lock, wait, [&] { return stop_; });
    if (stop_) return;
  }
}

}  // namespace mamori::agent
