// HTTP(S) check: one GET per run with cpp-httplib, expected status set, optional body substring.
#include <httplib.h>

#include <mutex>

#include "checks/probe.h"

namespace vipd::checks {
namespace {

using Clock = std::chrono::steady_clock;

class HttpProbe final : public Probe {
 public:
  explicit HttpProbe(const config::Check& c)
      : timeout_(c.timeout),
        expect_status_(c.expect_status),
        expect_body_(c.expect_body),
        tls_verify_(c.tls_verify) {
    parse_url(c.url);
  }

  ProbeResult run(int /*stop_fd*/) override {
    ProbeResult r;
    if (!url_error_.empty()) {
      r.error = url_error_;
      return r;
    }
    // A fresh client (and connection) per run: the probe exercises nginx's accept path too, and
    // no state survives from a run that failed half-way.
    httplib::Client cli(base_);
    // The connect timeout MUST be set: cpp-httplib's default is 300 s (DEPS.md §2).
    cli.set_connection_timeout(timeout_);
    cli.set_read_timeout(timeout_);
    cli.set_write_timeout(timeout_);
    cli.set_keep_alive(false);
    cli.set_follow_location(false);
    if (https_ && !tls_verify_) cli.enable_server_certificate_verification(false);
    {
      std::lock_guard lock(mu_);
      if (cancelled_) {
        r.error = "cancelled";
        return r;
      }
      current_ = &cli;
    }
    const auto t0 = Clock::now();
    auto res = cli.Get(path_, httplib::Headers{{"User-Agent", "vipd-check"}});
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
    {
      std::lock_guard lock(mu_);
      current_ = nullptr;
    }
    if (!res) {
      r.error = describe(res.error(), elapsed);
      return r;
    }
    const int status = res->status;
    bool status_ok = false;
    for (int s : expect_status_) status_ok = status_ok || s == status;
    if (!status_ok) {
      std::string set;
      for (int s : expect_status_) {
        if (!set.empty()) set.append(",");
        set.append(std::to_string(s));
      }
      r.error = "status " + std::to_string(status) + " not in [" + set + "]";
      return r;
    }
    if (!expect_body_.empty() && res->body.find(expect_body_) == std::string::npos) {
      r.error = "body does not contain " + printable(expect_body_);
      return r;
    }
    r.ok = true;
    return r;
  }

  // httplib's Client::stop() shuts the socket of an in-flight request down (thread-safe by
  // design); a request still in its connect phase ends within the connect timeout.
  void cancel() override {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    if (current_ != nullptr) current_->stop();
  }

 private:
  void parse_url(const std::string& url) {
    const auto sep = url.find("://");
    if (sep == std::string::npos) {
      url_error_ = "invalid url " + printable(url) + ": no scheme";
      return;
    }
    const std::string scheme = url.substr(0, sep);
    if (scheme != "http" && scheme != "https") {
      url_error_ = "invalid url " + printable(url) + ": scheme must be http or https";
      return;
    }
    https_ = scheme == "https";
    const auto path_pos = url.find('/', sep + 3);
    base_ = url.substr(0, path_pos);
    path_ = path_pos == std::string::npos ? "/" : url.substr(path_pos);
    if (base_.size() == sep + 3) url_error_ = "invalid url " + printable(url) + ": no host";
  }

  std::string describe(httplib::Error e, std::chrono::milliseconds elapsed) const {
    using httplib::Error;
    const std::string t = millis_text(timeout_);
    switch (e) {
      case Error::ConnectionTimeout:
        return "connect timeout after " + t;
      case Error::Connection:
        return "connect to " + base_ + " failed (refused or unreachable)";
      case Error::Read:
        // httplib reports a timed-out read and a connection closed early the same way.
        if (elapsed + std::chrono::milliseconds(5) >= timeout_) return "read timeout after " + t;
        return "connection closed before a complete response";
      case Error::Write:
        return "write failed (connection reset)";
      case Error::SSLConnection:
        return "TLS handshake failed";
      case Error::SSLServerVerification:
        return "TLS certificate verification failed (tls_verify = false accepts a self-signed "
               "certificate)";
      case Error::Canceled:
        return "cancelled";
      default:
        return "request failed: " + httplib::to_string(e);
    }
  }

  std::chrono::milliseconds timeout_;
  std::vector<int> expect_status_;
  std::string expect_body_;
  bool tls_verify_;
  bool https_ = false;
  std::string base_;
  std::string path_;
  std::string url_error_;
  std::mutex mu_;
  bool cancelled_ = false;
  httplib::Client* current_ = nullptr;
};

}  // namespace

std::unique_ptr<Probe> make_http_probe(const config::Check& check) {
  return std::make_unique<HttpProbe>(check);
}

}  // namespace vipd::checks
