// A real Caddy in front of anteroom and a protected site, running the shipped
// examples/caddy/Caddyfile (docs/proxy.md, "Caddy"): `forward_auth` to /v1/verify gates /shop,
// a refusal becomes a 302 to the waiting page, an admitted visitor's cookie (or ?anteroom_token)
// lets it through with X-Anteroom-Ticket passed to the site, the visitor's SSE stream flows
// through Caddy, a dead anteroom process in the upstream list is skipped, and anteroom sees the
// visitor's address, not Caddy's. Caddy missing is a failure, never a skip.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "support/anteroom_process.hpp"
#include "support/jwt.hpp"

namespace anteroom::testing {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using tcp = asio::ip::tcp;

// What the protected site answers: it echoes what Caddy passed on, so the test sees both that
// the site was reached and with which identity.
constexpr std::string_view kSiteBody = "the shop";

// caddy from PATH or its Debian place; "" if there is none.
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

// A loopback port nothing listens on at the moment of the call (as the other proxy tests pick
// theirs).
uint16_t FreePort() {
  asio::io_context io;
  tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

// One `caddy run` with its own admin-less config, data and config folders in a temp dir (Caddy
// would otherwise write under $HOME), logs on stderr. Returns once the port answers HTTP; throws
// with Caddy's stderr if it exits or stays silent past the deadline.
class Caddy {
 public:
  Caddy(const std::string& name, const std::filesystem::path& caddyfile,
        std::vector<std::string> env, uint16_t port)
      : port_(port) {
    std::string bin = FindCaddy();
    if (bin.empty()) throw std::runtime_error("caddy is not installed (./dev test installs it)");
    dir_ = std::filesystem::temp_directory_path() /
           ("anteroom_caddy_test_" + std::to_string(getpid()) + "_" + name + "_" +
            std::to_string(port));
    std::filesystem::create_directories(dir_);
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
  ~Caddy() {
    process_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  uint16_t port() const { return port_; }
  std::string Log() const { return process_->StderrTail(); }

 private:
  std::filesystem::path dir_;
  uint16_t port_;
  std::unique_ptr<Process> process_;
};

// The protected site: a second Caddy that answers every request with kSiteBody and the
// identity headers it received (a site of its own would read them the same way). It also sets
// a long Cache-Control, which the front must replace with no-store.
class Site {
 public:
  Site() : port_(FreePort()) {
    dir_ = std::filesystem::temp_directory_path() /
           ("anteroom_caddy_site_" + std::to_string(getpid()) + "_" + std::to_string(port_));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "Caddyfile")
        << "{\n\tadmin off\n\tauto_https off\n}\n"
        << "http://127.0.0.1:" << port_ << " {\n"
        << "\theader Cache-Control \"max-age=3600\"\n"
        << "\trespond \"" << kSiteBody
        << "; ticket={header.X-Anteroom-Ticket}; queue={header.X-Anteroom-Queue}\" 200\n"
        << "}\n";
    caddy_ = std::make_unique<Caddy>("site", dir_ / "Caddyfile", std::vector<std::string>{},
                                     port_);
  }
  ~Site() {
    caddy_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  uint16_t port() const { return port_; }

 private:
  uint16_t port_;
  std::filesystem::path dir_;
  std::unique_ptr<Caddy> caddy_;
};

// anteroom (embedded), the site, and in front of both a Caddy running examples/caddy/Caddyfile
// as shipped, its environment naming two anteroom upstreams: the real one and a port nothing
// listens on (a dead process, which Caddy must skip).
class CaddyFront {
 public:
  explicit CaddyFront(const std::vector<std::string>& anteroom_args = {})
      : anteroom_(WithTrustedCaddy(anteroom_args)) {
    uint16_t front = FreePort();
    uint16_t dead = FreePort();
    caddy_ = std::make_unique<Caddy>(
        "front", std::filesystem::path(ANTEROOM_SOURCE_DIR) / "examples/caddy/Caddyfile",
        std::vector<std::string>{
            "CADDY_ADMIN=off",
            "ANTEROOM_SITE=http://127.0.0.1:" + std::to_string(front),
            "ANTEROOM_UPSTREAMS=127.0.0.1:" + std::to_string(dead) + " 127.0.0.1:" +
                std::to_string(anteroom_.port()),
            "SHOP_BACKEND=127.0.0.1:" + std::to_string(site_.port())},
        front);
  }

  AnteroomProcess& anteroom() { return anteroom_; }
  uint16_t port() const { return caddy_->port(); }
  std::string Log() const { return caddy_->Log(); }

  // A request through Caddy on a fresh connection (from `source`, e.g. "127.0.0.2", if given).
  HttpResponse Get(const std::string& target, const Headers& headers = {}) const {
    return HttpClient(port()).Request("GET", target, headers);
  }
  HttpResponse Join(const std::string& queue, const std::string& source = {},
                    const Headers& headers = {}) const {
    HttpConnection c(port(), DeadlineIn(kPatience), "127.0.0.1", source);
    return c.Request("POST", "/v1/queues/" + queue + "/tickets", headers);
  }
  HttpResponse Shop(const std::string& token, const std::string& target = "/shop/") const {
    return Get(target, {{"Cookie", "anteroom_token=" + token}});
  }

 private:
  // Caddy connects from 127.0.0.1 and writes the visitor's address into X-Forwarded-For.
  static std::vector<std::string> WithTrustedCaddy(std::vector<std::string> args) {
    args.insert(args.end(), {"--trusted-proxies", "127.0.0.1/32"});
    return args;
  }

  AnteroomProcess anteroom_;
  Site site_;
  std::unique_ptr<Caddy> caddy_;
};

// Refused at the gate: a 302 to the waiting page, nothing of the site, not kept by the browser.
void ExpectSentToWaitingRoom(const HttpResponse& r, const std::string& what) {
  EXPECT_EQ(r.status, 302) << what << ": " << r;
  EXPECT_EQ(r.Header("Location"), "/q/shop") << what << ": " << r;
  EXPECT_EQ(r.body.find(kSiteBody), std::string::npos) << what << ": the site was served: " << r;
  EXPECT_EQ(r.Header("Cache-Control"), "no-store") << what << ": " << r;
}

// Let through: the site's body, with the admitted ticket (not a forged one) passed on.
void ExpectServedAs(const HttpResponse& r, const std::string& ticket, const std::string& what) {
  EXPECT_EQ(r.status, 200) << what << ": " << r;
  EXPECT_EQ(r.body, std::string(kSiteBody) + "; ticket=" + ticket + "; queue=shop")
      << what << ": " << r;
  EXPECT_EQ(r.Header("Cache-Control"), "no-store") << what << ": the site's max-age survived";
}

TEST(Caddy, ForwardAuthSendsVisitorsThroughTheWaitingRoomToTheSite) {
  CaddyFront front;
  // Nobody is admitted until the test opens the doors: the visitor waits first.
  front.anteroom().MustPutQueue(
      "shop", {{"max_active", 0}, {"admit_per_s", 100}, {"target_url", "/shop/"}});

  ExpectSentToWaitingRoom(front.Get("/shop/"), "no token");
  ExpectSentToWaitingRoom(front.Get("/shop"), "no token, no trailing slash");
  ExpectSentToWaitingRoom(front.Get("/shop/cart?item=1", {{"X-Anteroom-Ticket", "forged"}}),
                          "no token, a forged identity header");
  HttpResponse page = front.Get("/q/shop");
  EXPECT_EQ(page.status, 200) << "the waiting page through Caddy: " << page << "\n"
                              << front.Log();

  // Join through Caddy, follow the ticket's event stream through Caddy.
  HttpResponse join = front.Join("shop");
  ASSERT_EQ(join.status, 201) << join << "\n" << front.Log();
  std::string ticket = Str(join.Json(), "ticket");
  ASSERT_FALSE(ticket.empty()) << join;
  EXPECT_EQ(Str(join.Json(), "status"), "waiting") << join;
  SseClient stream(front.port(), AnteroomProcess::EventsPath("shop", ticket));
  ASSERT_EQ(stream.status(), 200) << stream.error_body() << "\n" << front.Log();
  ASSERT_TRUE(WaitForPosition(stream, 1)) << stream.raw();

  // Tokens that must not open the gate, the last one signed with the right secret: a waiting
  // ticket has no session yet, whatever a token says.
  json::object claims{{"queue", "shop"}, {"ticket", ticket}, {"exp", UnixNow() + 300}};
  ExpectSentToWaitingRoom(front.Shop(MakeJwt(claims, "not-the-secret")), "forged signature");
  ExpectSentToWaitingRoom(front.Shop("garbage"), "garbage cookie");
  ExpectSentToWaitingRoom(front.Shop(MakeJwt(claims, kTokenSecret)), "ticket still waiting");

  // Doors open: the admission reaches the visitor through Caddy's stream at once.
  front.anteroom().MustPutQueue(
      "shop", {{"max_active", 1}, {"admit_per_s", 100}, {"target_url", "/shop/"}});
  auto admitted = stream.WaitFor("admitted");
  ASSERT_TRUE(admitted) << stream.raw() << "\n" << front.Log();
  std::string token = Str(admitted->Json(), "token");
  ASSERT_FALSE(token.empty()) << admitted->Describe();

  ExpectServedAs(front.Shop(token), ticket, "the admission cookie");
  ExpectServedAs(front.Get("/shop/", {{"Cookie", "theme=dark; anteroom_token=" + token},
                                      {"X-Anteroom-Ticket", "forged"}}),
                 ticket, "cookie among others, a forged identity header replaced");
  ExpectServedAs(front.Get("/shop/?anteroom_token=" + token), ticket, "?anteroom_token=");
  ExpectServedAs(front.Shop(token, "/shop"), ticket, "no trailing slash");

  // Expired, or tampered with, or for another queue: back to the waiting room.
  claims["exp"] = UnixNow() - 60;
  ExpectSentToWaitingRoom(front.Shop(MakeJwt(claims, kTokenSecret)), "expired token");
  std::string flipped = token;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  ExpectSentToWaitingRoom(front.Shop(flipped), "signature changed");
  claims["exp"] = UnixNow() + 300;
  claims["queue"] = "other";
  ExpectSentToWaitingRoom(front.Shop(MakeJwt(claims, kTokenSecret)), "token for another queue");
  // A visitor's own Bearer header is not a way in (only the cookie or ?anteroom_token are).
  ExpectSentToWaitingRoom(front.Get("/shop/", {{"Authorization", "Bearer " + token}}),
                          "Authorization header");

  // The session ends (the shop reports the purchase done): the same cookie no longer opens it.
  HttpResponse done = front.anteroom().Complete("shop", ticket);
  ASSERT_EQ(done.status / 100, 2) << done;
  ExpectSentToWaitingRoom(front.Shop(token), "session completed");
}

// The join limit sees each visitor's own address through Caddy: a visitor forging
// X-Forwarded-For gains nothing, another visitor has its own budget.
TEST(Caddy, AnteroomSeesTheVisitorsAddressNotCaddys) {
  CaddyFront front({"--join-rate-per-ip", "0.01", "--join-burst-per-ip", "1"});
  front.anteroom().MustPutQueue("shop", {{"max_active", 0}});
  HttpResponse a1 = front.Join("shop", "127.0.0.2", {{"X-Forwarded-For", "198.18.0.1"}});
  ASSERT_EQ(a1.status, 201) << a1 << "\n" << front.Log();
  for (const char* forged : {"198.18.0.2", "198.18.0.3, 198.18.0.4"}) {
    HttpResponse a = front.Join("shop", "127.0.0.2", {{"X-Forwarded-For", forged}});
    EXPECT_EQ(a.status, 429) << "visitor 127.0.0.2 forging X-Forwarded-For: " << forged << ": "
                             << a;
  }
  HttpResponse b1 = front.Join("shop", "127.0.0.3");
  EXPECT_EQ(b1.status, 201) << "another visitor: " << b1;
  EXPECT_EQ(front.Join("shop", "127.0.0.3").status, 429);
  EXPECT_EQ(IntAt(front.anteroom().MustStats("shop"), {"waiting"}), 2);
}

}  // namespace
}  // namespace anteroom::testing
