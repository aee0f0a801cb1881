// libFuzzer target: one input is read as a policy document, a trust set and a signed bundle. Aborts
// when a policy that validates has a canonical form that does not, or whose bytes are not a fixed
// point of parse and serialize, or when an accepted bundle or trust set does not survive being
// written back.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "mamori/policy/bundle.h"
#include "mamori/policy/document.h"
#include "mamori/policy/text.h"
#include "mamori/policy/trust.h"
#include "mamori/policy/verify.h"

namespace {
using namespace mamori::policy;

[[noreturn]] void Fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "policy_fuzz: %s\n%.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

// The public key of the seed corpus's bundle.json (tests/fuzz/corpus/trust.json), so that the seed
// bundle gets past the signature checks into policy parsing, targeting and rollback.
const TrustSet& FixedTrust() {
  static const TrustSet trust = [] {
    TrustSetResult r =
        ParseTrustSet(R"({"threshold":1,"keys":["8voIW342oNwQXSunTFqVcMrK/fnV1cUv79c0sY/Sm4o="]})");
    if (!r.trust) Fail("the fixed trust set does not parse", "");
    return *r.trust;
  }();
  return trust;
}

void CheckPolicy(std::string_view text) {
  const ParseResult parsed = ParsePolicy(text);
  if (parsed.ok() != parsed.errors.empty()) Fail("ok() disagrees with the error list", text);
  if (!parsed.ok()) return;
  const std::string canonical = Canonicalize(*parsed.policy);
  const ParseResult again = ParsePolicy(canonical);
  if (!again.ok()) Fail("the canonical form of a valid policy does not validate", canonical);
  if (!(*again.policy == *parsed.policy))
    Fail("the canonical form reads back differently", canonical);
  if (Canonicalize(*again.policy) != canonical)
    Fail("canonical bytes are not a fixed point", canonical);
}

void CheckTrustSet(std::string_view text) {
  const TrustSetResult r = ParseTrustSet(text);
  if (!r.trust) return;
  const TrustSetResult again = ParseTrustSet(SerializeTrustSet(*r.trust));
  if (!again.trust || again.trust->keys != r.trust->keys ||
      again.trust->threshold != r.trust->threshold) {
    Fail("a serialized trust set reads back differently", text);
  }
}

void CheckBundle(std::string_view text) {
  std::vector<ValidationError> errors;
  if (const auto bundle = ParseBundle(text, errors)) {
    std::vector<ValidationError> again_errors;
    const auto again = ParseBundle(SerializeBundle(*bundle), again_errors);
    if (!again || again->policy_bytes != bundle->policy_bytes ||
        again->signatures != bundle->signatures) {
      Fail("a serialized bundle reads back differently", text);
    }
  }
  VerifyContext context;
  context.now = *ParseTimestamp("2026-11-23T09:00:00Z");
  context.groups = {"zeimu-ka"};
  context.last_version = 41;
  const VerifyResult r = VerifyBundle(text, FixedTrust(), context);
  if (r.ok() && Canonicalize(r.verified->policy) != r.verified->policy_bytes) {
    Fail("an accepted bundle's policy bytes are not canonical", text);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckPolicy(text);
  CheckTrustSet(text);
  CheckBundle(text);
  return 0;
}
