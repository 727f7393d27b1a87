// Caddy as a child process for end-to-end tests: the shipped examples/caddy/Caddyfile in front
// of anteroom processes, and a small protected site (a second Caddy) that echoes the identity
// headers it was given.
//
// Every Caddy runs without an admin endpoint, with its data and config folders in its own temp
// dir (Caddy would otherwise write under $HOME), its log on stderr (Log()). Constructors return
// once the Caddy answers on its port, or throw std::runtime_error (with Caddy's log) if it exits
// or stays silent past the deadline; a missing `caddy` binary throws too: a failure, not a skip.
// Destructors kill the process and remove the temp dir.
// Thread safety: as Process (one test thread drives each object).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "support/http_client.hpp"
#include "support/process.hpp"

namespace anteroom::testing {

// `caddy` from PATH or its Debian place; "" if there is none.
std::string FindCaddy();

// A loopback port nothing listens on at the moment of the call.
std::uint16_t FreeLoopbackPort();

// One `caddy run --config <caddyfile>` listening on `port` (which the config must name),
// `env` ("NAME=value") added to its environment.
class CaddyProcess {
 public:
  CaddyProcess(const std::string& name, const std::filesystem::path& caddyfile,
               std::vector<std::string> env, std::uint16_t port);
  ~CaddyProcess();
  CaddyProcess(const CaddyProcess&) = delete;
  CaddyProcess& operator=(const CaddyProcess&) = delete;

  std::uint16_t port() const { return port_; }
  std::string Log() const { return process_->StderrTail(); }

 private:
  std::filesystem::path dir_;
  std::uint16_t port_;
  std::unique_ptr<Process> process_;
};

// The protected site: answers every request with
// "<kEchoSiteBody>; ticket=<X-Anteroom-Ticket>; queue=<X-Anteroom-Queue>" and a long
// `Cache-Control: max-age=3600` (which a front must replace with no-store).
inline constexpr std::string_view kEchoSiteBody = "the shop";
class EchoSite {
 public:
  EchoSite();
  ~EchoSite();
  std::uint16_t port() const { return caddy_->port(); }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<CaddyProcess> caddy_;
};

// examples/caddy/Caddyfile as shipped, its environment naming the anteroom upstreams (loopback
// ports, in this order) and the site; admin endpoint off.
class ExampleCaddy {
 public:
  ExampleCaddy(const std::vector<std::uint16_t>& anteroom_ports, std::uint16_t site_port);

  std::uint16_t port() const { return caddy_->port(); }
  std::string Log() const { return caddy_->Log(); }

  // `GET target` through Caddy on a fresh connection.
  HttpResponse Get(const std::string& target, const Headers& headers = {}) const;
  // `POST /v1/queues/{queue}/tickets` through Caddy, from the local address `source` if given
  // (e.g. "127.0.0.2": another visitor as Caddy sees it).
  HttpResponse Join(const std::string& queue, const std::string& source = {},
                    const Headers& headers = {}) const;
  // `GET target` with the cookie `anteroom_token=<token>`.
  HttpResponse Shop(const std::string& token, const std::string& target = "/shop/") const;

 private:
  std::unique_ptr<CaddyProcess> caddy_;
};

}  // namespace anteroom::testing
