// RequestParser/ResponseParser: the strict HTTP/1.1 subset the daemon accepts, fed whole and in
// pieces, and every rejection with the status the client will see.
#include <gtest/gtest.h>

#include <string>

#include "api/http.h"

namespace vmgw::api {
namespace {

using State = RequestParser::State;

RequestParser parse(const std::string& bytes) {
  RequestParser p;
  p.feed(bytes);
  return p;
}

RequestParser parse_bytewise(const std::string& bytes) {
  RequestParser p;
  for (char c : bytes) p.feed(std::string_view(&c, 1));
  return p;
}

int error_of(const std::string& bytes) {
  auto p = parse(bytes);
  EXPECT_EQ(p.state(), State::error) << bytes;
  EXPECT_EQ(parse_bytewise(bytes).error_status(), p.error_status()) << bytes;
  return p.error_status();
}

std::string get(const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\n\r\n";
}

TEST(HttpParser, SimpleGet) {
  auto p = parse("GET /v1/vms HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n");
  ASSERT_EQ(p.state(), State::complete);
  EXPECT_EQ(p.request().method, "GET");
  EXPECT_EQ(p.request().path, "/v1/vms");
  EXPECT_EQ(p.request().headers.at("host"), "localhost");
  EXPECT_EQ(p.request().headers.at("accept"), "*/*");
  EXPECT_TRUE(p.request().body.empty());
}

TEST(HttpParser, MissingHostIsFine) {
  EXPECT_EQ(parse(get("/")).state(), State::complete);
  EXPECT_EQ(parse("GET / HTTP/1.0\r\n\r\n").state(), State::complete);
}

TEST(HttpParser, PostBodyByContentLength) {
  std::string req =
      "POST /v1/vms HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n"
      "{\"name\":\"x\"}\n";
  for (auto p : {parse(req), parse_bytewise(req)}) {
    ASSERT_EQ(p.state(), State::complete);
    EXPECT_EQ(p.request().method, "POST");
    EXPECT_EQ(p.request().body, "{\"name\":\"x\"}\n");
  }
  RequestParser p;
  EXPECT_EQ(p.feed(req.substr(0, req.size() - 1)), State::need_more);
  EXPECT_EQ(p.feed(req.substr(req.size() - 1)), State::complete);
}

TEST(HttpParser, BytesAfterTheBodyAreIgnored) {
  auto p = parse("PUT /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nokGET / HTTP/1.1\r\n\r\n");
  ASSERT_EQ(p.state(), State::complete);
  EXPECT_EQ(p.request().body, "ok");
  EXPECT_EQ(p.feed("more"), State::complete);
}

TEST(HttpParser, PercentDecodingOfPathAndQuery) {
  auto p = parse(get("/v1/vms/web%20server%C3%A9?a=b+c&d=%2F%26&e&&f=&g=x%2By"));
  ASSERT_EQ(p.state(), State::complete) << p.error_reason();
  EXPECT_EQ(p.request().path, "/v1/vms/web server\xc3\xa9");
  const auto& q = p.request().query;
  EXPECT_EQ(q.size(), 5u);
  EXPECT_EQ(q.at("a"), "b c");
  EXPECT_EQ(q.at("d"), "/&");
  EXPECT_EQ(q.at("e"), "");
  EXPECT_EQ(q.at("f"), "");
  EXPECT_EQ(q.at("g"), "x+y");
  // '+' is only a space in the query.
  EXPECT_EQ(parse(get("/a+b")).request().path, "/a+b");
}

TEST(HttpParser, RejectsBadPercentEscapes) {
  for (const char* t : {"/a%", "/a%2", "/a%zz", "/a%2g", "/?a=%g1", "/?a%=1", "/?a=1%"})
    EXPECT_EQ(error_of(get(t)), 400) << t;
}

TEST(HttpParser, RejectsEncodedSlashControlsAndBadUtf8InPath) {
  EXPECT_EQ(error_of(get("/v1/vms/a%2Fb")), 400);
  EXPECT_EQ(error_of(get("/v1/vms/a%00b")), 400);
  EXPECT_EQ(error_of(get("/v1/vms/a%0Ab")), 400);
  EXPECT_EQ(error_of(get("/v1/vms/%FF")), 400);
  EXPECT_EQ(error_of(get("/v1/vms/%C0%AF")), 400);     // overlong '/'
  EXPECT_EQ(error_of(get("/v1/vms/%ED%A0%80")), 400);  // surrogate
  EXPECT_EQ(error_of(get("/?a=%7F")), 400);
  EXPECT_EQ(error_of(get("/?a=%E2%82")), 400);  // truncated sequence
}

TEST(HttpParser, RejectsControlCharactersAndBareLineEnds) {
  EXPECT_EQ(error_of("GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n"), 400);
  EXPECT_EQ(error_of(std::string("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 24)), 400);
  EXPECT_EQ(error_of("GET / HTTP/1.1\nX: a\r\n\r\n"), 400);
  EXPECT_EQ(error_of("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"), 400);
  EXPECT_EQ(error_of("GET /\xc3\xa9 HTTP/1.1\r\n\r\n"), 400);  // raw non-ASCII target
  EXPECT_EQ(error_of("GET /a#frag HTTP/1.1\r\n\r\n"), 400);
  // Garbage fails at once, without waiting for 16 KiB or a timeout.
  RequestParser p;
  EXPECT_EQ(p.feed("\x16\x03\x01\x02"), State::error);
}

TEST(HttpParser, RejectsMalformedRequestLines) {
  for (const char* r :
       {"\r\n\r\n", "GET\r\n\r\n", "GET /\r\n\r\n", "GET  / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1 \r\n\r\n", "GET / HTTP/1.1 x\r\n\r\n", "GET / http/1.1\r\n\r\n",
        "GET / HTTP/1.10\r\n\r\n", "G(T / HTTP/1.1\r\n\r\n", "\r\nGET / HTTP/1.1\r\n\r\n"})
    EXPECT_EQ(error_of(r), 400) << r;
  EXPECT_EQ(error_of("GET http://host/v1 HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(error_of("GET * HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(error_of("GET / HTTP/2.0\r\n\r\n"), 505);
}

TEST(HttpParser, OnlyTheFiveMethods) {
  for (const char* m : {"GET", "POST", "PUT", "DELETE", "PATCH"})
    EXPECT_EQ(parse(std::string(m) + " / HTTP/1.1\r\n\r\n").state(), State::complete) << m;
  for (const char* m : {"HEAD", "OPTIONS", "TRACE", "CONNECT", "get", "BREW"})
    EXPECT_EQ(error_of(std::string(m) + " / HTTP/1.1\r\n\r\n"), 501) << m;
}

TEST(HttpParser, HeadersLowerCasedTrimmedAndCombined) {
  auto p = parse("GET / HTTP/1.1\r\nX-Thing: \t a b \t\r\nx-thing: c\r\nEmpty:\r\n\r\n");
  ASSERT_EQ(p.state(), State::complete);
  EXPECT_EQ(p.request().headers.at("x-thing"), "a b, c");
  EXPECT_EQ(p.request().headers.at("empty"), "");
}

TEST(HttpParser, RejectsMalformedHeaders) {
  EXPECT_EQ(error_of("GET / HTTP/1.1\r\nX : a\r\n\r\n"), 400);  // space before colon
  EXPECT_EQ(error_of("GET / HTTP/1.1\r\nNoColon\r\n\r\n"), 400);
  EXPECT_EQ(error_of("GET / HTTP/1.1\r\n: a\r\n\r\n"), 400);
  EXPECT_EQ(error_of("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"), 400);  // obs-fold
  EXPECT_EQ(error_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
}

TEST(HttpParser, ContentLengthIsStrict) {
  for (const char* cl : {"-1", "+1", "1,1", "abc", "1 1", "0x10", ""})
    EXPECT_EQ(error_of(std::string("POST / HTTP/1.1\r\nContent-Length: ") + cl + "\r\n\r\n"), 400)
        << cl;
  EXPECT_EQ(error_of("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx"), 400);
  auto p = parse("POST / HTTP/1.1\r\nContent-Length:  0 \r\n\r\n");
  EXPECT_EQ(p.state(), State::complete);
}

TEST(HttpParser, ChunkedIsRefused) {
  EXPECT_EQ(
      error_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
      411);
  EXPECT_EQ(error_of("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
            411);
}

TEST(HttpParser, BodyLimitIsDecidedFromTheHeaders) {
  RequestParser p;
  EXPECT_EQ(p.feed("POST / HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n"), State::error);
  EXPECT_EQ(p.error_status(), 413);
  EXPECT_EQ(error_of("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999999\r\n\r\n"), 413);
  std::string body(kMaxBodyBytes, 'x');
  auto ok = parse("POST / HTTP/1.1\r\nContent-Length: 1048576\r\n\r\n" + body);
  ASSERT_EQ(ok.state(), State::complete);
  EXPECT_EQ(ok.request().body.size(), kMaxBodyBytes);
}

TEST(HttpParser, HeaderSectionLimits) {
  EXPECT_EQ(error_of(get("/" + std::string(kMaxHeaderBytes, 'a'))), 414);
  std::string big = "GET / HTTP/1.1\r\nX: " + std::string(kMaxHeaderBytes, 'a') + "\r\n\r\n";
  EXPECT_EQ(error_of(big), 431);
  // Exactly at the limit is fine.
  std::string head = "GET / HTTP/1.1\r\nX: ";
  std::string exact = head + std::string(kMaxHeaderBytes - head.size() - 4, 'a') + "\r\n\r\n";
  ASSERT_EQ(exact.size(), kMaxHeaderBytes);
  EXPECT_EQ(parse(exact).state(), State::complete);
  EXPECT_EQ(error_of(head + std::string(kMaxHeaderBytes - head.size() - 3, 'a') + "\r\n\r\n"), 431);
}

TEST(HttpParser, AtMostOneHundredHeaders) {
  std::string req = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 100; ++i) req += "H" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(parse(req + "\r\n").state(), State::complete);
  EXPECT_EQ(error_of(req + "H100: v\r\n\r\n"), 431);
}

TEST(HttpParser, ExpectContinue) {
  RequestParser p;
  p.feed("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
  EXPECT_TRUE(p.wants_continue());
  p.feed("ok");
  EXPECT_FALSE(p.wants_continue());
  EXPECT_EQ(p.state(), State::complete);
}

TEST(HttpParser, SplitPath) {
  using V = std::vector<std::string>;
  EXPECT_EQ(split_path("/v1/vms/web"), (V{"v1", "vms", "web"}));
  EXPECT_EQ(split_path("/v1//vms/"), (V{"v1", "vms"}));
  EXPECT_EQ(split_path("/"), V{});
  EXPECT_EQ(split_path(""), V{});
  EXPECT_EQ(split_path("a b"), V{"a b"});
}

TEST(HttpSerialize, Response) {
  Response r{201, "application/json", "{}\n", {{"Location", "/v1/vms/web"}}};
  EXPECT_EQ(serialize(r),
            "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nLocation: /v1/vms/web\r\n"
            "Content-Length: 3\r\nConnection: close\r\n\r\n{}\n");
  // No body (nor length) for 204; framing headers and line breaks cannot be injected.
  Response n{204,
             "application/json",
             "ignored",
             {{"Content-Length", "5"}, {"X-A", "a\r\nSet-Cookie: x"}, {"Bad Name", "v"}}};
  EXPECT_EQ(serialize(n),
            "HTTP/1.1 204 No Content\r\nX-A: aSet-Cookie: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(serialize(Response{42, "", "", {}}).substr(0, 35),
            "HTTP/1.1 500 Internal Server Error\r");
}

TEST(HttpSerialize, RequestRoundTrips) {
  Request r;
  r.method = "POST";
  r.path = "/v1/vms/web server/ü";
  r.query = {{"q", "a+b&c=d"}, {"x y", ""}};
  r.body = "{\"a\":1}";
  std::string wire = serialize(r);
  EXPECT_EQ(wire.substr(0, wire.find("\r\n")),
            "POST /v1/vms/web%20server/%C3%BC?q=a%2Bb%26c%3Dd&x%20y= HTTP/1.1");
  auto p = parse(wire);
  ASSERT_EQ(p.state(), State::complete) << p.error_reason();
  EXPECT_EQ(p.request().path, r.path);
  EXPECT_EQ(p.request().query, r.query);
  EXPECT_EQ(p.request().body, r.body);
  EXPECT_EQ(p.request().headers.at("content-type"), "application/json");
  EXPECT_EQ(p.request().headers.at("host"), "localhost");
}

TEST(HttpResponseParser, ContentLengthAndReadToEof) {
  ResponseParser p;
  std::string wire = serialize(Response{404, "application/json", "{\"e\":1}", {{"Allow", "GET"}}});
  for (char c : wire) p.feed(std::string_view(&c, 1));
  ASSERT_EQ(p.state(), ResponseParser::State::complete);
  EXPECT_EQ(p.response().status, 404);
  EXPECT_EQ(p.response().body, "{\"e\":1}");
  EXPECT_EQ(p.response().content_type, "application/json");
  EXPECT_EQ(p.response().headers.at("allow"), "GET");

  ResponseParser eof;
  eof.feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\nhello ");
  eof.feed("world");
  EXPECT_EQ(eof.state(), ResponseParser::State::need_more);
  EXPECT_EQ(eof.finish(), ResponseParser::State::complete);
  EXPECT_EQ(eof.response().status, 200);
  EXPECT_EQ(eof.response().body, "hello world");
  EXPECT_EQ(eof.response().content_type, "");
}

TEST(HttpResponseParser, Errors) {
  ResponseParser truncated;
  truncated.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  EXPECT_EQ(truncated.finish(), ResponseParser::State::error);
  for (const char* bad : {"HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n",
                          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                          "HTTP/1.1 200 OK\r\nbad header\r\n\r\n"}) {
    ResponseParser p;
    EXPECT_EQ(p.feed(bad), ResponseParser::State::error) << bad;
  }
  ResponseParser nothing;
  EXPECT_EQ(nothing.finish(), ResponseParser::State::error);
}

}  // namespace
}  // namespace vmgw::api
