// pam_mamori.so: asks mamori-agent whether this login needs a TOTP code, prompts for it and lets
// the agent decide. The module holds no secret and no state; anything unexpected denies.
//
//   auth required pam_mamori.so [socket=/run/mamori/agent.sock] [timeout=SECONDS]
//                               [exempt_users=NAME,NAME]
#define PAM_SM_AUTH
#include <errno.h>
#include <poll.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <string_view>

#include "mamori/agent/mfa_protocol.h"

namespace {

using mamori::agent::MfaAnswer;
using mamori::agent::MfaOp;
using mamori::agent::MfaRequest;

struct Options {
  std::string socket = "/run/mamori/agent.sock";
  int timeout_ms = 10000;
  std::string exempt_users;  // comma-separated
};

bool ParseOptions(pam_handle_t* pamh, int argc, const char** argv, Options* o) {
  for (int i = 0; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.starts_with("socket=")) {
      o->socket = arg.substr(7);
    } else if (arg.starts_with("timeout=")) {
      char* end = nullptr;
      std::string value(arg.substr(8));
      long seconds = strtol(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || seconds < 1 || seconds > 120) {
        pam_syslog(pamh, LOG_ERR, "timeout= must be 1..120 seconds, got '%s'", value.c_str());
        return false;
      }
      o->timeout_ms = static_cast<int>(seconds * 1000);
    } else if (arg.starts_with("exempt_users=")) {
      o->exempt_users = arg.substr(13);
    } else {
      pam_syslog(pamh, LOG_ERR, "unknown option '%s'", argv[i]);
      return false;
    }
  }
  return true;
}

bool Exempt(const std::string& list, std::string_view user) {
  std::string_view rest = list;
  while (!rest.empty()) {
    std::size_t comma = rest.find(',');
    if (rest.substr(0, comma) == user) return true;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return false;
}

bool Japanese(pam_handle_t* pamh) {
  for (const char* var : {"LC_ALL", "LC_MESSAGES", "LANG"}) {
    const char* v = pam_getenv(pamh, var);
    if (!v || !*v) v = getenv(var);
    if (v && *v) return strncmp(v, "ja", 2) == 0;
  }
  return false;
}

// Only root may have made the socket, in a directory only root can change; otherwise a user could
// stand up a fake agent that says yes.
bool TrustedSocket(pam_handle_t* pamh, const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode) || st.st_uid != 0) {
    pam_syslog(pamh, LOG_ERR, "%s: not a socket owned by root", path.c_str());
    return false;
  }
  const std::string dir = path.substr(0, path.rfind('/') == 0 ? 1 : path.rfind('/'));
  if (stat(dir.c_str(), &st) != 0 || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    pam_syslog(pamh, LOG_ERR, "%s: directory not owned by root or writable by others", dir.c_str());
    return false;
  }
  return true;
}

long RemainingMs(const struct timespec& deadline) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (deadline.tv_sec - now.tv_sec) * 1000 + (deadline.tv_nsec - now.tv_nsec) / 1000000;
}

bool WaitFor(int fd, short events, const struct timespec& deadline) {
  for (;;) {
    long left = RemainingMs(deadline);
    if (left <= 0) return false;
    struct pollfd p = {fd, events, 0};
    int rc = poll(&p, 1, static_cast<int>(left));
    if (rc > 0) return true;
    if (rc == 0 || errno != EINTR) return false;
  }
}

// One request, one answer line; nullopt when the agent cannot be reached or answers nonsense.
std::optional<MfaAnswer> Ask(pam_handle_t* pamh, const Options& o, const MfaRequest& request) {
  if (!TrustedSocket(pamh, o.socket)) return std::nullopt;
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (o.socket.size() >= sizeof addr.sun_path) return std::nullopt;
  memcpy(addr.sun_path, o.socket.c_str(), o.socket.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return std::nullopt;
  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += o.timeout_ms / 1000;
  std::optional<MfaAnswer> answer;
  std::string line = mamori::agent::SerializeMfaRequest(request) + "\n";
  std::string reply;
  bool sent = connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) == 0 ||
              (errno == EAGAIN && WaitFor(fd, POLLOUT, deadline));
  std::size_t off = 0;
  while (sent && off < line.size()) {
    ssize_t n = send(fd, line.data() + off, line.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      sent = WaitFor(fd, POLLOUT, deadline);
    } else {
      sent = false;
    }
  }
  explicit_bzero(line.data(), line.size());
  while (sent && reply.find('\n') == std::string::npos && reply.size() < 1024) {
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      reply.append(buf, static_cast<std::size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!WaitFor(fd, POLLIN, deadline)) break;
    } else {
      break;
    }
  }
  close(fd);
  const std::size_t nl = reply.find('\n');
  if (nl != std::string::npos) answer = mamori::agent::ParseMfaAnswer(reply.substr(0, nl));
  if (!answer) pam_syslog(pamh, LOG_ERR, "no answer from mamori-agent at %s", o.socket.c_str());
  return answer;
}

int ToPam(MfaAnswer a) {
  switch (a) {
    case MfaAnswer::kSuccess:
      return PAM_SUCCESS;
    case MfaAnswer::kMaxTries:
      return PAM_MAXTRIES;
    case MfaAnswer::kUserUnknown:
      return PAM_USER_UNKNOWN;
    case MfaAnswer::kIgnore:
      return PAM_IGNORE;
    case MfaAnswer::kAuthError:
    case MfaAnswer::kPrompt:
      return PAM_AUTH_ERR;
  }
  return PAM_AUTH_ERR;
}

std::string Item(pam_handle_t* pamh, int type) {
  const void* v = nullptr;
  if (pam_get_item(pamh, type, &v) != PAM_SUCCESS || !v) return {};
  return static_cast<const char*>(v);
}

int Authenticate(pam_handle_t* pamh, int argc, const char** argv) {
  Options o;
  if (!ParseOptions(pamh, argc, argv, &o)) return PAM_AUTH_ERR;
  const char* user = nullptr;
  if (pam_get_user(pamh, &user, nullptr) != PAM_SUCCESS || !user || !*user) return PAM_AUTH_ERR;
  if (Exempt(o.exempt_users, user)) {
    pam_syslog(pamh, LOG_NOTICE, "user %s is exempt from MFA by module argument", user);
    return PAM_IGNORE;
  }
  const bool ja = Japanese(pamh);
  MfaRequest request;
  request.op = MfaOp::kCheck;
  request.user = user;
  request.service = Item(pamh, PAM_SERVICE);
  request.tty = Item(pamh, PAM_TTY);
  request.rhost = Item(pamh, PAM_RHOST);
  std::optional<MfaAnswer> answer = Ask(pamh, o, request);
  if (!answer) return PAM_AUTH_ERR;
  if (*answer != MfaAnswer::kPrompt) return ToPam(*answer);

  char* response = nullptr;
  int rc = pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &response, "%s",
                      ja ? "確認コード: " : "Verification code: ");
  if (rc != PAM_SUCCESS || !response) {
    free(response);
    return PAM_AUTH_ERR;
  }
  request.op = MfaOp::kVerify;
  request.code = response;
  explicit_bzero(response, strlen(response));
  free(response);
  answer = Ask(pamh, o, request);
  if (!answer) return PAM_AUTH_ERR;
  if (*answer == MfaAnswer::kMaxTries) {
    pam_error(pamh, "%s",
              ja ? "失敗が続いたため一時的にロックされています。時間をおいて再試行してください。"
                 : "Too many failed attempts: locked for a while. Try again later.");
  }
  return ToPam(*answer);
}

}  // namespace

extern "C" {

PAM_EXTERN __attribute__((visibility("default"))) int pam_sm_authenticate(pam_handle_t* pamh,
                                                                          int /*flags*/, int argc,
                                                                          const char** argv) {
  try {
    return Authenticate(pamh, argc, argv);
  } catch (...) {
    // An exception must never cross into the C caller, and must never mean success.
    return PAM_AUTH_ERR;
  }
}

PAM_EXTERN __attribute__((visibility("default"))) int pam_sm_setcred(pam_handle_t* /*pamh*/,
                                                                     int /*flags*/, int /*argc*/,
                                                                     const char** /*argv*/) {
  return PAM_SUCCESS;
}

}  // extern "C"
