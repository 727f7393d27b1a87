// Behind a proxy: the client address comes from the proxy's X-Forwarded-For entry (as many hops
// from the right as configured, or past the trusted proxies), never from what the client wrote;
// X-Real-IP only when configured and only from a trusted peer; a trusted proxy's connections
// are not capped per address. Last, the same through a real nginx with two visitors on two
// source addresses (docs/proxy.md).
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "support/anteroom_process.hpp"

namespace anteroom::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

// One join per client address, then 429 for a long while: the refusal cannot depend on how
// fast the test runs (a refill takes 100 s).
const std::vector<std::string> kOneJoinPerClient = {"--join-rate-per-ip", "0.01",
                                                    "--join-burst-per-ip", "1"};

std::vector<std::string> With(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Process::Options Command(std::string path, std::vector<std::string> args) {
  Process::Options o;
  o.path = std::move(path);
  o.args = std::move(args);
  return o;
}

// A fresh random address in 198.18.0.0/15 (benchmarking range) each call: a forged header.
std::string RandomAddress() {
  static std::mt19937 rng{std::random_device{}()};
  return "198." + std::to_string(18 + rng() % 2) + "." + std::to_string(rng() % 256) + "." +
         std::to_string(1 + rng() % 254);
}

// What an appending proxy sends for client `client` that forged its own X-Forwarded-For and
// X-Real-IP: "<forged>, <client>" and a random X-Real-IP.
Headers ForgedThroughProxy(const std::string& client) {
  return {{"X-Forwarded-For", RandomAddress() + ", " + client}, {"X-Real-IP", RandomAddress()}};
}

struct TrustCase {
  const char* name;
  std::vector<std::string> args;
};

class ProxyTrustModes : public ::testing::TestWithParam<TrustCase> {};

// The test process (127.0.0.1) plays the proxy; the client is the rightmost entry.
TEST_P(ProxyTrustModes, ForgedHeadersCannotSkipTheJoinLimit) {
  AnteroomProcess server(With(kOneJoinPerClient, GetParam().args));
  server.MustPutQueue("line", {{"max_active", 0}});
  HttpResponse first = server.Join("line", std::nullopt, ForgedThroughProxy("203.0.113.7"));
  ASSERT_EQ(first.status, 201) << first;
  for (int i = 0; i < 3; ++i) {
    HttpResponse again = server.Join("line", std::nullopt, ForgedThroughProxy("203.0.113.7"));
    EXPECT_EQ(again.status, 429) << "attempt " << i + 1 << " with a fresh forged X-Real-IP and "
                                 << "leftmost X-Forwarded-For: " << again;
    EXPECT_EQ(again.ErrorCode(), "rate_limited") << again;
  }
  // Another client behind the same proxy has its own budget: the key is the client, not the
  // proxy.
  HttpResponse other = server.Join("line", std::nullopt, ForgedThroughProxy("203.0.113.8"));
  EXPECT_EQ(other.status, 201) << other;
  // No forwarding header at all: the peer's own budget, untouched so far.
  EXPECT_EQ(server.Join("line").status, 201);
  EXPECT_EQ(server.Join("line").status, 429);
  EXPECT_EQ(IntAt(server.MustStats("line"), {"waiting"}), 3);
}

INSTANTIATE_TEST_SUITE_P(
    Proxy, ProxyTrustModes,
    ::testing::Values(TrustCase{"TrustProxyIsOneHop", {"--trust-proxy"}},
                      TrustCase{"OneHop", {"--trust-proxy-hops", "1"}},
                      TrustCase{"TrustedList", {"--trusted-proxies", "127.0.0.1/32"}},
                      TrustCase{"TrustedListAndOneHop",
                                {"--trusted-proxies", "127.0.0.0/8", "--trust-proxy-hops", "1"}}),
    [](const auto& info) { return std::string(info.param.name); });

// Garbage where the client's address should be: keyed by the peer, never by the string.
TEST(Proxy, GarbageEntryFallsBackToThePeer) {
  AnteroomProcess server(With(kOneJoinPerClient, {"--trust-proxy"}));
  server.MustPutQueue("line", {{"max_active", 0}});
  HttpResponse first = server.Join("line", std::nullopt, {{"X-Forwarded-For", "garbage-1"}});
  EXPECT_EQ(first.status, 201) << first;
  HttpResponse second = server.Join("line", std::nullopt, {{"X-Forwarded-For", "garbage-2"}});
  EXPECT_EQ(second.status, 429) << "a new string must not be a new client: " << second;
  HttpResponse plain = server.Join("line");
  EXPECT_EQ(plain.status, 429) << "both were the peer's address: " << plain;
}

TEST(Proxy, RealIpHeaderIsBelievedFromATrustedPeerOnly) {
  {
    AnteroomProcess server(With(
        kOneJoinPerClient, {"--trusted-proxies", "127.0.0.1/32", "--real-ip-header", "X-Real-IP"}));
    server.MustPutQueue("line", {{"max_active", 0}});
    auto as = [&](const std::string& real) {
      return server.Join("line", std::nullopt,
                         {{"X-Real-IP", real}, {"X-Forwarded-For", RandomAddress()}});
    };
    EXPECT_EQ(as("203.0.113.7").status, 201);
    HttpResponse again = as("203.0.113.7");
    EXPECT_EQ(again.status, 429) << "X-Real-IP names the client, X-Forwarded-For is not used: "
                                 << again;
    EXPECT_EQ(as("203.0.113.8").status, 201) << "another client";
  }
  {
    // The test process (127.0.0.1) is not in the list: its headers are nobody's word.
    AnteroomProcess server(With(
        kOneJoinPerClient, {"--trusted-proxies", "10.0.0.0/8", "--real-ip-header", "X-Real-IP"}));
    server.MustPutQueue("line", {{"max_active", 0}});
    EXPECT_EQ(server.Join("line", std::nullopt, {{"X-Real-IP", RandomAddress()}}).status, 201);
    for (int i = 0; i < 3; ++i) {
      HttpResponse r = server.Join("line", std::nullopt, ForgedThroughProxy(RandomAddress()));
      EXPECT_EQ(r.status, 429) << "an untrusted peer's X-Real-IP / X-Forwarded-For: " << r;
    }
  }
}

// --real-ip-header without --trusted-proxies would believe any peer: refused at start, as is a
// list that is not one.
TEST(Proxy, RealIpHeaderWithoutTrustedProxiesIsRefused) {
  Process p(Command(AnteroomBinary(), AnteroomArgs({"--real-ip-header", "X-Real-IP"})));
  auto status = p.WaitExit(DeadlineIn(kPatience));
  ASSERT_TRUE(status) << "still running";
  EXPECT_TRUE(status->exited && status->code == 2) << status->Describe();
  EXPECT_NE(p.Stderr().find("--real-ip-header needs --trusted-proxies"), std::string::npos)
      << p.Stderr();
  Process bad(Command(AnteroomBinary(), AnteroomArgs({"--trusted-proxies", "10.0.0.0/33"})));
  auto bad_status = bad.WaitExit(DeadlineIn(kPatience));
  ASSERT_TRUE(bad_status) << "still running";
  EXPECT_TRUE(bad_status->exited && bad_status->code == 2) << bad_status->Describe();
  EXPECT_NE(bad.Stderr().find("--trusted-proxies"), std::string::npos) << bad.Stderr();
}

// A request on a new connection that is neither /healthz nor /readyz (which may be answered
// beyond the caps).
HttpResponse OrdinaryRequest(HttpConnection& c) {
  return c.Request("GET", "/v1/queues/line/tickets/none");
}

TEST(Proxy, TrustedProxyConnectionsSkipThePerAddressCapNotTheTotal) {
  AnteroomProcess server(
      {"--trusted-proxies", "127.0.0.1/32", "--max-conns-per-ip", "2", "--max-connections", "6"});
  auto held = HoldConnections(server, 5);  // more than 2 from one (trusted) address
  held.push_back(std::make_unique<HttpConnection>(server.port()));
  HttpResponse sixth = OrdinaryRequest(*held.back());
  EXPECT_EQ(sixth.status, 404) << "the sixth connection is within the total: " << sixth;
  HttpConnection seventh_conn(server.port());
  HttpResponse seventh = OrdinaryRequest(seventh_conn);
  EXPECT_EQ(seventh.status, 503) << "the total cap still holds: " << seventh;
  EXPECT_EQ(seventh.ErrorCode(), "over_capacity") << seventh;
}

TEST(Proxy, AnUntrustedPeerIsStillCappedPerAddress) {
  AnteroomProcess server({"--trusted-proxies", "10.0.0.0/8", "--max-conns-per-ip", "2"});
  auto held = HoldConnections(server, 2);
  HttpConnection third_conn(server.port());
  HttpResponse third = OrdinaryRequest(third_conn);
  EXPECT_EQ(third.status, 503) << third;
  EXPECT_EQ(third.ErrorCode(), "over_capacity") << third;
}

// ---- Through a real nginx -----------------------------------------------------------------

// nginx from PATH or its Debian place; "" if there is none.
std::string FindNginx() {
  std::string path = getenv("PATH") ? getenv("PATH") : "";
  path += ":/usr/sbin:/usr/local/sbin";
  for (size_t start = 0; start <= path.size();) {
    size_t colon = path.find(':', start);
    if (colon == std::string::npos) colon = path.size();
    std::filesystem::path p = std::filesystem::path(path.substr(start, colon - start)) / "nginx";
    if (!p.parent_path().empty() && access(p.c_str(), X_OK) == 0) return p.string();
    start = colon + 1;
  }
  return {};
}

uint16_t FreePort() {
  asio::io_context io;
  tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

// nginx in front of one anteroom, configured as docs/proxy.md says, in its own temp prefix.
class Nginx {
 public:
  explicit Nginx(uint16_t upstream_port) {
    std::string bin = FindNginx();
    if (bin.empty()) throw std::runtime_error("nginx is not installed (./dev test installs it)");
    dir_ =
        std::filesystem::temp_directory_path() /
        ("anteroom_proxy_test_" + std::to_string(getpid()) + "_" + std::to_string(upstream_port));
    std::filesystem::create_directories(dir_ / "logs");
    std::filesystem::create_directories(dir_ / "temp");
    port_ = FreePort();
    std::ofstream(dir_ / "nginx.conf")
        << "daemon off;\nmaster_process off;\nworker_processes 1;\n"
        << "pid " << (dir_ / "nginx.pid").string() << ";\n"
        << "error_log " << (dir_ / "logs/error.log").string() << " info;\n"
        << "events { worker_connections 256; }\n"
        << "http {\n"
        << "  access_log " << (dir_ / "logs/access.log").string() << ";\n"
        << "  client_body_temp_path " << (dir_ / "temp").string() << ";\n"
        << "  proxy_temp_path " << (dir_ / "temp").string() << ";\n"
        << "  upstream anteroom { server 127.0.0.1:" << upstream_port << "; keepalive 4; }\n"
        << "  server {\n"
        << "    listen 127.0.0.1:" << port_ << ";\n"
        << "    location / {\n"
        << "      proxy_pass http://anteroom;\n"
        << "      proxy_http_version 1.1;\n"
        << "      proxy_set_header Connection \"\";\n"
        << "      proxy_set_header Host $host;\n"
        << "      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
        << "      proxy_buffering off;\n"
        << "      proxy_read_timeout 1h;\n"
        << "    }\n"
        << "  }\n"
        << "}\n";
    process_ = std::make_unique<Process>(
        Command(bin, {"-p", dir_.string(), "-c", (dir_ / "nginx.conf").string(), "-e",
                      (dir_ / "logs/error.log").string()}));
  }
  ~Nginx() {
    process_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  uint16_t port() const { return port_; }
  bool Running() { return process_->Running(); }
  std::string ErrorLog() const {
    std::ifstream f(dir_ / "logs/error.log");
    return std::string(std::istreambuf_iterator<char>(f), {});
  }

 private:
  std::filesystem::path dir_;
  uint16_t port_ = 0;
  std::unique_ptr<Process> process_;
};

// A visitor on its own source address (127.0.0.x), one connection; every operation under the
// deadline given, a timeout or I/O error throws.
class Visitor {
 public:
  Visitor(const std::string& source, uint16_t port, Deadline deadline = DeadlineIn(kPatience))
      : stream_(io_) {
    stream_.socket().open(tcp::v4());
    stream_.socket().bind(tcp::endpoint(asio::ip::make_address(source), 0));
    stream_.expires_at(deadline);
    boost::system::error_code result = asio::error::timed_out;
    stream_.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                          [&](boost::system::error_code ec) { result = ec; });
    Run(result);
  }

  // A whole request and its response.
  HttpResponse Request(bhttp::verb method, const std::string& target, const Headers& headers,
                       Deadline deadline = DeadlineIn(kPatience)) {
    Send(method, target, headers, deadline);
    bhttp::response<bhttp::string_body> res;
    boost::system::error_code result = asio::error::timed_out;
    bhttp::async_read(stream_, buffer_, res,
                      [&](boost::system::error_code ec, size_t) { result = ec; });
    Run(result);
    HttpResponse out;
    out.status = res.result_int();
    out.headers = res.base();
    out.body = res.body();
    return out;
  }

  // Sends a request and reads the response head only (an event stream stays open after it).
  int OpenStream(const std::string& target, Deadline deadline = DeadlineIn(kPatience)) {
    Send(bhttp::verb::get, target, {{"Accept", "text/event-stream"}}, deadline);
    stream_parser_ = std::make_unique<bhttp::response_parser<bhttp::string_body>>();
    boost::system::error_code result = asio::error::timed_out;
    bhttp::async_read_header(stream_, buffer_, *stream_parser_,
                             [&](boost::system::error_code ec, size_t) { result = ec; });
    Run(result);
    stream_.expires_never();
    return stream_parser_->get().result_int();
  }

 private:
  void Send(bhttp::verb method, const std::string& target, const Headers& headers,
            Deadline deadline) {
    bhttp::request<bhttp::string_body> req{method, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    for (const auto& [k, v] : headers) req.insert(k, v);
    req.prepare_payload();
    stream_.expires_at(deadline);
    boost::system::error_code result = asio::error::timed_out;
    bhttp::async_write(stream_, req, [&](boost::system::error_code ec, size_t) { result = ec; });
    Run(result);
  }
  void Run(const boost::system::error_code& result) {
    io_.restart();
    io_.run();  // the stream's expiry bounds it
    if (result) throw std::system_error(result, "visitor");
  }

  asio::io_context io_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::unique_ptr<bhttp::response_parser<bhttp::string_body>> stream_parser_;
};

HttpResponse JoinVia(const Nginx& nginx, const std::string& source) {
  Visitor v(source, nginx.port());
  return v.Request(bhttp::verb::post, "/v1/queues/line/tickets",
                   {{"X-Forwarded-For", RandomAddress()}, {"X-Real-IP", RandomAddress()}});
}

TEST(Proxy, BehindRealNginxEachVisitorIsLimitedOnItsOwn) {
  // At most one connection per address: nginx's connections (all from 127.0.0.1) must be exempt
  // for two visitors to be served at once.
  AnteroomProcess server(
      With(kOneJoinPerClient, {"--trusted-proxies", "127.0.0.1/32", "--max-conns-per-ip", "1"}));
  server.MustPutQueue("line", {{"max_active", 0}});
  Nginx nginx(server.port());
  HttpResponse probe;
  ASSERT_TRUE(PollUntil(
      [&] {
        if (!nginx.Running()) return false;
        try {
          probe = Visitor("127.0.0.1", nginx.port()).Request(bhttp::verb::get, "/healthz", {});
        } catch (const std::system_error&) {
          return false;  // not listening yet
        }
        return probe.status == 200;
      },
      DeadlineIn(kPatience), std::chrono::milliseconds(20)))
      << "nginx did not come up: " << probe << "\n"
      << nginx.ErrorLog();

  // Visitor A (127.0.0.2): one join, then refused however it forges its headers.
  HttpResponse a1 = JoinVia(nginx, "127.0.0.2");
  ASSERT_EQ(a1.status, 201) << a1 << "\n" << nginx.ErrorLog();
  std::string ticket = Str(a1.Json(), "ticket");
  ASSERT_FALSE(ticket.empty()) << a1;
  for (int i = 0; i < 3; ++i) {
    HttpResponse a = JoinVia(nginx, "127.0.0.2");
    EXPECT_EQ(a.status, 429) << "forged X-Forwarded-For / X-Real-IP through nginx: " << a;
  }

  // A holds its event stream open through nginx: one nginx → anteroom connection in use.
  Visitor stream("127.0.0.2", nginx.port());
  ASSERT_EQ(stream.OpenStream(AnteroomProcess::EventsPath("line", ticket)), 200);
  EXPECT_EQ(IntAt(server.MustStats("line"), {"waiting"}), 1);

  // Visitor B (127.0.0.3) meanwhile: its own budget, on a second connection from nginx.
  HttpResponse b1 = JoinVia(nginx, "127.0.0.3");
  EXPECT_EQ(b1.status, 201) << b1 << "\n" << nginx.ErrorLog();
  HttpResponse b2 = JoinVia(nginx, "127.0.0.3");
  EXPECT_EQ(b2.status, 429) << b2;
  EXPECT_EQ(IntAt(server.MustStats("line"), {"waiting"}), 2);
}

}  // namespace
}  // namespace anteroom::testing
