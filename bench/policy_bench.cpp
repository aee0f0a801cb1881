// Costs on the terminal's hot paths: verifying a pushed bundle, and deciding a plugged-in device.
#include <benchmark/benchmark.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "mamori/policy/bundle.h"
#include "mamori/policy/document.h"
#include "mamori/policy/signing.h"
#include "mamori/policy/text.h"
#include "mamori/policy/trust.h"
#include "mamori/policy/usb_match.h"
#include "mamori/policy/verify.h"

namespace mamori::policy {
namespace {
namespace json = boost::json;

// A policy with `rules` ledger-style allow rules, as a municipality with a media ledger writes it.
std::string PolicyText(int rules) {
  json::array allow;
  for (int i = 0; i < rules; ++i) {
    const std::string n = std::to_string(i);
    allow.push_back(json::object{{"id", "ledger-" + n},
                                 {"label", "媒体管理台帳 No." + n},
                                 {"vid", "0781"},
                                 {"pid", "5567"},
                                 {"serial", "4C5300012305121" + std::string(5 - n.size(), '0') + n},
                                 {"interface_classes", json::array{"08:06:50"}},
                                 {"mode", i % 2 == 0 ? "read-only" : "allow"},
                                 {"groups", json::array{"zeimu-ka", "shimin-ka"}},
                                 {"not_after", "2027-03-31T15:00:00Z"}});
  }
  json::object doc{
      {"schema", 1},
      {"version", 7},
      {"issued_at", "2026-11-01T00:00:00Z"},
      {"expires_at", "2027-03-31T15:00:00Z"},
      {"targets", json::array{"shimin-ka", "zeimu-ka"}},
      {"usb", json::object{{"allow", allow}}},
      {"mfa", json::object{{"services", json::array{"login", "gdm-password", "sshd"}}}},
      {"network", json::object{{"allowed_egress", json::array{"10.20.0.0/16"}}}}};
  return json::serialize(doc);
}

std::string Canonical(const std::string& text) {
  ParseResult r = ParsePolicy(text);
  if (!r.ok()) {
    std::cerr << "benchmark policy is invalid: " << r.errors.front().ToString() << "\n";
    std::abort();
  }
  return Canonicalize(*r.policy);
}

void VerifySignedBundle(benchmark::State& state) {
  const SigningKey key = SigningKey::Generate();
  const std::vector<const SigningKey*> keys{&key};
  const std::string bundle =
      SerializeBundle(SignPolicy(Canonical(PolicyText(static_cast<int>(state.range(0)))), keys));
  TrustSet trust;
  trust.keys.push_back(key.public_key());
  VerifyContext context;
  context.now = *ParseTimestamp("2026-11-23T09:00:00Z");
  context.groups = {"zeimu-ka"};
  for (auto _ : state) {
    VerifyResult r = VerifyBundle(bundle, trust, context);
    if (!r.ok()) {
      state.SkipWithError(r.message.c_str());
      break;
    }
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bundle.size()));
  state.counters["bundle_bytes"] = static_cast<double>(bundle.size());
}
BENCHMARK(VerifySignedBundle)->Arg(0)->Arg(100)->Unit(benchmark::kMicrosecond);

void ParseAndCanonicalize(benchmark::State& state) {
  const std::string text = PolicyText(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(Canonicalize(*ParsePolicy(text).policy));
}
BENCHMARK(ParseAndCanonicalize)->Arg(100)->Unit(benchmark::kMicrosecond);

// The worst case: every rule gets as far as the serial before failing, no class rule covers the
// device, and the default decides.
void MatchDeviceNoRuleMatches(benchmark::State& state) {
  UsbPolicy usb;
  for (int i = 0; i < state.range(0); ++i) {
    AllowRule rule;
    rule.id = "ledger-" + std::to_string(i);
    rule.vid = 0x0781;
    rule.pid = 0x5567;
    rule.serial = "4C530001230512" + std::to_string(100000 + i);
    rule.interface_classes = {{0x08, 0x06, 0x50}};
    rule.groups = {"zeimu-ka"};
    usb.allow.push_back(std::move(rule));
  }
  DeviceDescription device;
  device.vid = 0x0781;
  device.pid = 0x5567;
  device.serial = "4C530001230512999999";
  device.interfaces = {{0x08, 0x06, 0x50}};
  device.port = "1-2.4";
  device.connect_type = "hotplug";
  device.user = "tanaka";
  device.groups = {"zeimu-ka"};
  const Timestamp now = *ParseTimestamp("2026-11-23T09:00:00Z");
  for (auto _ : state) {
    Decision d = MatchDevice(usb, device, now);
    if (d.rule_id != kDefaultRuleId) {
      state.SkipWithError("a rule matched");
      break;
    }
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(MatchDeviceNoRuleMatches)->Arg(10000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace mamori::policy
