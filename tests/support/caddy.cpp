#include "support/caddy.hpp"

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace anteroom::testing {

namespace asio = boost::asio;

std::string FindCaddy() {
  std::string path = getenv("PATH") ? getenv("PATH") : "";
  path += ":/usr/bin:/usr/local/bin";
  for (size_t start = 0; start <= path.size();) {
    size_t colon = path.find(':', start);
    if (colon == std::string::npos) colon = path.size();
    std::filesystem::path p = std::filesystem::path(path.substr(start, colon - start)) / "caddy";
    if (!p.parent_path().empty() && access(p.c_str(), X_OK) == 0) return p.string();
    start = colon + 1;
  }
  return {};
}

std::uint16_t FreeLoopbackPort() {
  asio::io_context io;
  asio::ip::tcp::acceptor a(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

namespace {

std::filesystem::path TempDir(const std::string& name, std::uint16_t port) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("anteroom_caddy_" + std::to_string(getpid()) + "_" + name + "_" + std::to_string(port));
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace

CaddyProcess::CaddyProcess(const std::string& name, const std::filesystem::path& caddyfile,
                           std::vector<std::string> env, std::uint16_t port)
    : port_(port) {
  std::string bin = FindCaddy();
  if (bin.empty()) throw std::runtime_error("caddy is not installed (./dev test installs it)");
  dir_ = TempDir(name, port);
  env.push_back("XDG_DATA_HOME=" + (dir_ / "data").string());
  env.push_back("XDG_CONFIG_HOME=" + (dir_ / "config").string());
  env.push_back("HOME=" + dir_.string());
  Process::Options o;
  o.path = bin;
  o.args = {"run", "--config", caddyfile.string(), "--adapter", "caddyfile"};
  o.extra_env = std::move(env);
  process_ = std::make_unique<Process>(std::move(o));
  bool up = PollUntil(
      [&] {
        if (!process_->Running()) return false;
        try {
          HttpConnection probe(port_, DeadlineIn(std::chrono::seconds(1)));
          return true;
        } catch (const std::system_error&) {
          return false;  // not listening yet
        }
      },
      DeadlineIn(kPatience), std::chrono::milliseconds(20));
  if (!up) throw std::runtime_error("caddy (" + name + ") did not come up:\n" + Log());
}

CaddyProcess::~CaddyProcess() {
  process_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

EchoSite::EchoSite() {
  std::uint16_t port = FreeLoopbackPort();
  dir_ = TempDir("site_conf", port);
  std::ofstream(dir_ / "Caddyfile")
      << "{\n\tadmin off\n\tauto_https off\n}\n"
      << "http://127.0.0.1:" << port << " {\n"
      << "\theader Cache-Control \"max-age=3600\"\n"
      << "\trespond \"" << kEchoSiteBody
      << "; ticket={header.X-Anteroom-Ticket}; queue={header.X-Anteroom-Queue}\" 200\n"
      << "}\n";
  caddy_ =
      std::make_unique<CaddyProcess>("site", dir_ / "Caddyfile", std::vector<std::string>{}, port);
}

EchoSite::~EchoSite() {
  caddy_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

ExampleCaddy::ExampleCaddy(const std::vector<std::uint16_t>& anteroom_ports,
                           std::uint16_t site_port) {
  std::uint16_t port = FreeLoopbackPort();
  std::string upstreams;
  for (std::uint16_t p : anteroom_ports) {
    if (!upstreams.empty()) upstreams += ' ';
    upstreams += "127.0.0.1:" + std::to_string(p);
  }
  caddy_ = std::make_unique<CaddyProcess>(
      "front", std::filesystem::path(ANTEROOM_SOURCE_DIR) / "examples/caddy/Caddyfile",
      std::vector<std::string>{
          "CADDY_ADMIN=off", "ANTEROOM_SITE=http://127.0.0.1:" + std::to_string(port),
          "ANTEROOM_UPSTREAMS=" + upstreams, "SHOP_BACKEND=127.0.0.1:" + std::to_string(site_port)},
      port);
}

HttpResponse ExampleCaddy::Get(const std::string& target, const Headers& headers) const {
  return HttpClient(port()).Request("GET", target, headers);
}

HttpResponse ExampleCaddy::Join(const std::string& queue, const std::string& source,
                                const Headers& headers) const {
  HttpConnection c(port(), DeadlineIn(kPatience), "127.0.0.1", source);
  return c.Request("POST", "/v1/queues/" + queue + "/tickets", headers);
}

HttpResponse ExampleCaddy::Shop(const std::string& token, const std::string& target) const {
  return Get(target, {{"Cookie", "anteroom_token=" + token}});
}

}  // namespace anteroom::testing
