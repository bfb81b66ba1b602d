-- modules/xmpp.lua: the server-to-server probe, stage by stage, against a real Prosody
-- (tests/lab/prosody.sh), one presenting a certificate for the wrong domain, and hostile
-- peers (tests/lab/hostile.sh: misbehaving, filtered, and XMPP over TLS with certificates of
-- tests/lab/certs.sh). Addresses 127.0.52.3-6. #xmpp
local xmpp = require "xmpp"
local lab = require "helpers.servers"
local lab_lock = require "lab_lock"
local support = require "support"

local GOOD, WRONG, HOSTILE, NOBODY = "127.0.52.3", "127.0.52.4", "127.0.52.5", "127.0.52.6"
local task = require "runbook.task"

-- A resolver answering from a table: {["name TYPE"] = records}; unknown names have none.
local function resolver_from(zone)
  return function(name, rtype) return zone[name .. " " .. rtype] or {} end
end

local function assert_stages(result, expected)
  for stage, ok in pairs(expected) do
    assert.equal(ok, result[stage].ok, stage .. ": " .. tostring(result[stage].detail))
  end
end

describe("xmpp.probe against Prosody #xmpp #prosody", function()
  local good, wrong, release
  setup(function()
    release = lab_lock.acquire("rbn")
    good = lab.start("prosody", GOOD)
    wrong = lab.start("prosody", WRONG, "fabrikam.com")
  end)
  teardown(function()
    local ok, err = pcall(function()
      lab.stop(good)
      lab.stop(wrong)
    end)
    if release then release() end
    assert(ok, err)
  end)

  it("passes every stage for a correctly federated domain", function()
    local result = xmpp.probe { domain = "contoso.com", targets = { { host = GOOD, port = 5269 } },
                                ca_file = good.ca_file, timeout = 5 }
    assert_stages(result, { resolve = true, connect = true, stream = true, starttls = true,
                            tls = true, certificate = true, features = true })
    assert.is_true(result.ok)
    assert.is_nil(result.failed)
    assert.equal(GOOD .. ":5269", result.target)
    assert.matches("STARTTLS %(required%)", result.stream.detail)
    assert.matches("^TLSv1%.[23]", result.tls.detail)
    assert.is_true(result.dialback)
    assert.is_true(result.dialback_feature)
    assert.is_false(result.sasl_external)
    assert.matches("%[ ok %] certificate", xmpp.summary(result))
  end)

  it("follows SRV records in priority order past a closed target", function()
    local result = xmpp.probe { domain = "contoso.com", ca_file = good.ca_file,
      resolver = resolver_from {
        ["_xmpp-server._tcp.contoso.com SRV"] = {
          { priority = 20, weight = 0, port = 5269, target = "edge2.contoso.com." },
          { priority = 10, weight = 0, port = 5269, target = "edge1.contoso.com." },
        },
        ["edge1.contoso.com A"] = { { address = NOBODY } },
        ["edge2.contoso.com A"] = { { address = GOOD } },
      } }
    assert.is_true(result.ok, xmpp.summary(result))
    assert.matches(NOBODY .. ":5269 closed.*" .. GOOD .. ":5269 open", result.connect.detail)
    assert.equal(GOOD .. ":5269", result.target)
  end)

  it("falls back to the domain's address on 5269 without SRV records", function()
    local result = xmpp.probe { domain = "contoso.com", ca_file = good.ca_file,
      resolver = resolver_from { ["contoso.com A"] = { { address = GOOD } } } }
    assert.is_true(result.ok, xmpp.summary(result))
    assert.matches("falling back to contoso.com:5269", result.resolve.detail)
  end)

  it("fails at the certificate stage when the certificate is for another domain", function()
    local result = xmpp.probe { domain = "contoso.com", targets = { { host = WRONG, port = 5269 } },
                                ca_file = wrong.ca_file }
    assert_stages(result, { stream = true, starttls = true, tls = true, certificate = false })
    assert.equal("certificate", result.failed)
    assert.matches("names fabrikam.com, not contoso.com", result.certificate.detail)
    assert.is_true(result.features.skipped)
  end)

  it("fails at the certificate stage when the chain is not trusted", function()
    local result = xmpp.probe { domain = "contoso.com", targets = { { host = GOOD, port = 5269 } },
                                ca_file = wrong.ca_file }
    assert.equal("certificate", result.failed)
    assert.matches("does not verify", result.certificate.detail)
  end)

  it("fails at the connect stage, naming the state, when nothing listens", function()
    local result = xmpp.probe { domain = "contoso.com", timeout = 1,
                                targets = { { host = NOBODY, port = 5269 } } }
    assert.equal("connect", result.failed)
    assert.matches("closed %(conn%-refused%)", result.connect.detail)
    assert.is_true(result.stream.skipped)
  end)

  -- Negotiates STARTTLS by hand, then sock:starttls(options): -> stream | nil, message, code
  local function starttls_with(options)
    local net = require "runbook.net"
    return task.run(function()
      local sock = assert(net.open { host = GOOD, port = 5269 })
      assert(sock:send("<?xml version='1.0'?><stream:stream xmlns='jabber:server' " ..
        "xmlns:stream='http://etherx.jabber.org/streams' to='contoso.com' version='1.0'>"))
      local seen = ""
      while not seen:find("</stream:features>", 1, true) do
        seen = seen .. assert(sock:receive(4096, { timeout = 5 }))
      end
      assert(sock:send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"))
      seen = ""
      while not seen:find("<proceed", 1, true) do
        seen = seen .. assert(sock:receive(4096, { timeout = 5 }))
      end
      local stream, message, code = sock:starttls(options)
      if stream then stream:close(); stream:close() end
      return stream ~= nil, message, code
    end)
  end

  it("runbook.tls with verify=true checks the chain and the name in the handshake", function()
    assert.is_true(starttls_with { servername = "contoso.com", ca_file = good.ca_file })
    local ok, message, code = starttls_with { servername = "contoso.com", ca_file = wrong.ca_file }
    assert.is_false(ok)
    assert.equal("verify", code)
    assert.matches("contoso.com", message)
    local _
    ok, _, code = starttls_with { servername = "fabrikam.com", ca_file = good.ca_file }
    assert.is_false(ok)
    assert.equal("verify", code)
  end)

  describe("with the SRV record in a real DNS server (named, runbook.dns) #dns", function()
    local named
    setup(function()
      named = lab.start("named", "127.0.52.8", "5301")
      -- the zone's edge1 points outside loopback: point it at the Prosody above first
      local update = support.sh(("nsupdate -k %s"):format(support.quote(named.key)), ([[
server 127.0.52.8 5301
zone contoso.com
update delete edge1.contoso.com. A
update add edge1.contoso.com. 300 A %s
send
]]):format(GOOD))
      assert(update.code == 0, update.err)
      local check = support.sh("dig @127.0.52.8 -p 5301 +short edge1.contoso.com A")
      assert(check.out == GOOD .. "\n", "edge1.contoso.com is " .. check.out)
    end)
    teardown(function() lab.stop(named) end)

    it("resolves _xmpp-server._tcp through runbook.dns and passes every stage", function()
      local result = xmpp.probe { domain = "contoso.com", ca_file = good.ca_file,
                                  dns_server = "127.0.52.8", dns_port = 5301 }
      assert.is_true(result.ok, xmpp.summary(result))
      assert.matches("SRV _xmpp%-server._tcp.contoso.com: 1 record", result.resolve.detail)
      assert.equal(GOOD .. ":5269", result.target)
    end)
  end)

  it("fails at the resolve stage when SRV says the service is not available", function()
    local result = xmpp.probe { domain = "contoso.com", resolver = resolver_from {
      ["_xmpp-server._tcp.contoso.com SRV"] = {
        { priority = 0, weight = 0, port = 0, target = "." } },
    } }
    assert.equal("resolve", result.failed)
    assert.matches("not available", result.resolve.detail)
  end)
end)

describe("xmpp.probe against hostile servers #xmpp", function()
  local peers, release
  setup(function()
    release = lab_lock.acquire("rbn")
    peers = lab.start("hostile", HOSTILE, 45311)
  end)
  teardown(function()
    local ok, err = pcall(lab.stop, peers)
    if release then release() end
    assert(ok, err)
  end)

  local function probe_port(port)
    return xmpp.probe { domain = "contoso.com", timeout = 0.5,
                        targets = { { host = HOSTILE, port = tonumber(port) } } }
  end

  it("times out at the stream stage on a server that never speaks", function()
    local result = probe_port(peers.silent)
    assert.equal("stream", result.failed)
    assert.matches("no answer to the stream header within 0.5 s", result.stream.detail)
  end)

  it("fails at the stream stage on garbage, with the parser's error", function()
    local result = probe_port(peers.garbage)
    assert.equal("stream", result.failed)
    assert.matches("not an XMPP stream: xml:", result.stream.detail)
  end)

  it("stops reading an endless stream at the byte limit", function()
    local result = probe_port(peers.endless)
    assert.equal("stream", result.failed)
    assert.matches("limit", result.stream.detail)
  end)

  it("fails at the tls stage when the server answers STARTTLS with bytes that are not TLS",
    function()
      local result = probe_port(peers.tls_garbage)
      assert_stages(result, { stream = true, starttls = true, tls = false })
      assert.matches("^tls: handshake with contoso.com failed", result.tls.detail)
    end)

  it("times out at the tls stage when the server goes silent after <proceed/>", function()
    local result = probe_port(peers.tls_silent)
    assert.equal("tls", result.failed)
    assert.matches("timed out", result.tls.detail)
  end)

  -- The probe of a peer that completes STARTTLS with a certificate of the test CA.
  local function probe_tls(port)
    return xmpp.probe { domain = "contoso.com", timeout = 2, ca_file = peers.ca_file,
                        targets = { { host = HOSTILE, port = tonumber(port) } } }
  end

  it("reports SASL EXTERNAL when the stream over TLS offers only that", function()
    local result = probe_tls(peers.sasl_external)
    assert.is_true(result.ok, xmpp.summary(result))
    assert.is_true(result.sasl_external)
    assert.is_false(result.dialback)
    assert.equal("after TLS: SASL EXTERNAL", result.features.detail)
  end)

  it("fails at the features stage when neither SASL EXTERNAL nor dialback is offered",
    function()
      local result = probe_tls(peers.no_auth)
      assert_stages(result, { certificate = true, features = false })
      assert.equal("features", result.failed)
      assert.is_false(result.sasl_external)
      assert.is_false(result.dialback)
      assert.matches("after TLS: nothing: neither dialback nor SASL EXTERNAL",
        result.features.detail)
    end)

  it("counts xmlns:db on the stream header as dialback (XEP-0220) without the feature",
    function()
      local result = probe_tls(peers.dialback_declared)
      assert.is_true(result.ok, xmpp.summary(result))
      assert.same({ true, true, false, false }, { result.dialback, result.dialback_declared,
                                                  result.dialback_feature, result.sasl_external })
      assert.matches("declared by xmlns:db on the stream header only", result.features.detail)
    end)

  it("accepts a certificate whose only identifier is the SRV-ID _xmpp-server.<domain>",
    function()
      local result = probe_tls(peers.srv_id)
      assert.is_true(result.ok, xmpp.summary(result))
      assert.equal("verified; names _xmpp-server.contoso.com (SRV-ID)", result.certificate.detail)
      assert.same({ "SRV-ID _xmpp-server.contoso.com" }, result.certificate_names)
    end)

  it("accepts a certificate whose only identifier is the XmppAddr of the domain", function()
    local result = probe_tls(peers.xmpp_addr)
    assert.is_true(result.ok, xmpp.summary(result))
    assert.equal("verified; names contoso.com (XmppAddr)", result.certificate.detail)
  end)

  it("ignores the subject CN when the certificate presents an SRV-ID for another domain",
    function()
      local result = probe_tls(peers.srv_id_other_cn)
      assert.equal("certificate", result.failed)
      assert.matches("names SRV%-ID _xmpp%-server.fabrikam.com, not contoso.com",
        result.certificate.detail)
      assert.matches("RFC 6125 §6.4.4 ignores the CN", result.certificate.detail)
    end)

  local function filtered_targets()
    return { { host = HOSTILE, port = tonumber(peers.filtered_1) },
             { host = HOSTILE, port = tonumber(peers.filtered_2) },
             { host = HOSTILE, port = tonumber(peers.filtered_3) } }
  end

  it("tries every filtered target once, each within its timeout, and names the firewall",
    function()
      local result = xmpp.probe { domain = "contoso.com", timeout = 0.3, deadline = 10,
                                  targets = filtered_targets() }
      assert.equal("connect", result.failed)
      assert.is_nil(result.connect.reason)
      local _, filtered = result.connect.detail:gsub("filtered %(timeout%)", "")
      assert.equal(3, filtered, result.connect.detail)
      assert.matches("firewall", result.connect.detail)
    end)

  it("ends at its deadline when the filtered targets' timeouts add up to more", function()
    local started = task.run(task.now)
    local result = xmpp.probe { domain = "contoso.com", timeout = 1, deadline = 1.5,
                                targets = filtered_targets() }
    local took = task.run(task.now) - started
    assert.equal("connect", result.failed)
    assert.equal("deadline", result.connect.reason)
    assert.matches("^the probe's deadline of 1.5 s passed during this stage: "
      .. HOSTILE .. ":%d+ filtered %(timeout%); " .. HOSTILE .. ":%d+ %(no answer yet%); "
      .. "1 more target%(s%) not tried", result.connect.detail)
    assert.is_true(result.stream.skipped)
    assert.is_true(took < 3, "took " .. took .. " s: the sum of the timeouts, not the deadline")
  end)

  it("ends at its deadline in a later stage too (a server that never speaks)", function()
    local result = xmpp.probe { domain = "contoso.com", timeout = 5, deadline = 0.5,
                                targets = { { host = HOSTILE, port = tonumber(peers.silent) } } }
    assert_stages(result, { connect = true, stream = false })
    assert.equal("deadline", result.stream.reason)
    assert.matches("deadline of 0.5 s passed during this stage", result.stream.detail)
  end)

  it("fails at the stream stage on a peer that is not XMPP (an echo server)", function()
    local result = probe_port(peers.echo)
    assert.equal("stream", result.failed)
    assert.is_false(result.stream.ok)
  end)
end)

-- A net whose every open is refused, noting what was opened; connect must not be called.
local function refusing_net(opened)
  return {
    connect = function() error("net.connect called: the probe must open each target once") end,
    open = function(target)
      opened[#opened + 1] = ("%s:%d"):format(target.host, target.port)
      return nil, ("net: cannot connect to %s:%d: port closed (conn-refused)"):format(
        target.host, target.port), "refused"
    end,
  }
end

describe("xmpp.probe without a network #xmpp", function()
  it("opens each target once (no separate port check) and reports its state", function()
    local opened = {}
    local result = xmpp.probe { domain = "contoso.com", net = refusing_net(opened),
      targets = { { host = NOBODY, port = 5269 }, { host = NOBODY, port = 5270 } } }
    assert.same({ NOBODY .. ":5269", NOBODY .. ":5270" }, opened)
    assert.equal(NOBODY .. ":5269 closed (conn-refused); " .. NOBODY .. ":5270 closed "
      .. "(conn-refused)", result.connect.detail)
  end)

  -- SRV records of one priority with different weights, and one of a later priority; each
  -- target's port tells which record it came from.
  local SRV_ZONE = {
    ["_xmpp-server._tcp.contoso.com SRV"] = {
      { priority = 10, weight = 10, port = 5001, target = "a.contoso.com." },
      { priority = 10, weight = 60, port = 5002, target = "b.contoso.com." },
      { priority = 10, weight = 30, port = 5003, target = "c.contoso.com." },
      { priority = 20, weight = 0, port = 5004, target = "d.contoso.com." },
      { priority = 5, weight = 0, port = 5005, target = "e.contoso.com." },
      { priority = 5, weight = 7, port = 5006, target = "f.contoso.com." },
    },
    ["a.contoso.com A"] = { { address = NOBODY } }, ["b.contoso.com A"] = { { address = NOBODY } },
    ["c.contoso.com A"] = { { address = NOBODY } }, ["d.contoso.com A"] = { { address = NOBODY } },
    ["e.contoso.com A"] = { { address = NOBODY } }, ["f.contoso.com A"] = { { address = NOBODY } },
  }
  local draws = {
    -- what random(0, total) returns, in turn -> the order of the ports (RFC 2782: the first
    -- record whose running sum of weights reaches the draw; zero weights first in line)
    { { 0, 1, 50, 5, 0, 0 }, { 5005, 5006, 5002, 5001, 5003, 5004 } },
    { { 7, 0, 100, 40, 0, 0 }, { 5006, 5005, 5003, 5002, 5001, 5004 } },
    { { 1, 0, 10, 0, 30, 0 }, { 5006, 5005, 5001, 5002, 5003, 5004 } },
  }
  for _, case in ipairs(draws) do
    it(("orders SRV targets by priority, then by a weighted draw: %s"):format(
      table.concat(case[1], ",")), function()
      local script, bounds, opened = { table.unpack(case[1]) }, {}, {}
      local result = xmpp.probe { domain = "contoso.com", net = refusing_net(opened),
        resolver = resolver_from(SRV_ZONE),
        random = function(low, high)
          bounds[#bounds + 1] = ("%d-%d"):format(low, high)
          return table.remove(script, 1)
        end }
      local ports = {}
      for i, target in ipairs(opened) do ports[i] = tonumber(target:match(":(%d+)$")) end
      assert.same(case[2], ports, result.resolve.detail)
      assert.equal("0-7", bounds[1])        -- priority 5: weights 0 + 7
      assert.equal("0-100", bounds[3])      -- priority 10: 10 + 60 + 30
      assert.equal(6, #bounds)
    end)
  end

  -- Each lookup of the resolver takes 10 ms of the loop's time; asked one after the other,
  -- the addresses of three SRV targets would take six of them (issue 16).
  it("asks the addresses of every SRV target at once, A and AAAA alike", function()
    local in_flight, most, asked = 0, 0, {}
    local function slow_resolver(name, rtype)
      asked[#asked + 1] = name .. " " .. rtype
      in_flight = in_flight + 1
      most = math.max(most, in_flight)
      task.sleep(0.01)
      in_flight = in_flight - 1
      return resolver_from(SRV_ZONE)(name, rtype)
    end
    local opened = {}
    xmpp.probe { domain = "contoso.com", net = refusing_net(opened), resolver = slow_resolver,
                 random = function(low) return low end }
    assert.equal(1 + 12, #asked)             -- the SRV, then A and AAAA of six targets
    assert.equal(12, most)
    assert.equal(6, #opened)                 -- each target's A record, in the SRV order
  end)

  it("draws heavier SRV targets first more often with the default random source", function()
    local first = {}
    for _ = 1, 200 do
      local opened = {}
      xmpp.probe { domain = "contoso.com", net = refusing_net(opened), resolver = resolver_from {
        ["_xmpp-server._tcp.contoso.com SRV"] = {
          { priority = 10, weight = 1, port = 5001, target = "a.contoso.com." },
          { priority = 10, weight = 99, port = 5002, target = "b.contoso.com." } },
        ["a.contoso.com A"] = { { address = NOBODY } },
        ["b.contoso.com A"] = { { address = NOBODY } },
      } }
      first[opened[1]] = (first[opened[1]] or 0) + 1
    end
    assert.is_true((first[NOBODY .. ":5002"] or 0) > 150, "b first only "
      .. tostring(first[NOBODY .. ":5002"]) .. " times of 200")
  end)
end)

describe("runbook.tls.read_certificate on the test certificates of the fuzz corpus #xmpp",
  function()
    local tls = require "runbook.tls"
    local LISTS = { "dns_names", "srv_names", "xmpp_addresses", "uri_names", "ip_addresses",
                    "other_names" }
    local CN_ONLY = "contoso.com (subject CN; the certificate presents no subjectAltName "
      .. "identifier)"
    local NUL_NAME = "contoso.com\0evil.example"
    local cases = {
      -- tests/fuzz/corpus/cert/NAME.der (tests/fuzz/cert_seeds.sh), its name lists, the match
      -- for contoso.com
      { "prosody-contoso", { dns_names = { "contoso.com", "*.contoso.com" } }, "contoso.com" },
      { "no-san", {}, CN_ONLY },
      { "ip-san", { ip_addresses = { "127.0.0.1", "::1" } }, CN_ONLY },
      { "other-names", { srv_names = { "_xmpp-server.contoso.com" },
          xmpp_addresses = { "contoso.com" }, uri_names = { "xmpp:contoso.com" } },
        "_xmpp-server.contoso.com (SRV-ID)" },
      { "other-names-wrong-types",
        { other_names = { "1.3.6.1.5.5.7.8.7", "1.3.6.1.5.5.7.8.5", "1.2.3.4" } }, nil },
      { "nul-in-names", { dns_names = { NUL_NAME }, srv_names = { "_xmpp-server." .. NUL_NAME },
          xmpp_addresses = { NUL_NAME } }, nil },
    }
    for _, case in ipairs(cases) do
      it(("reads the names of %s.der"):format(case[1]), function()
        local file = assert(io.open("tests/fuzz/corpus/cert/" .. case[1] .. ".der", "rb"))
        local certificate = assert(tls.read_certificate(file:read("a")))
        file:close()
        for _, list in ipairs(LISTS) do
          assert.same(case[2][list] or {}, certificate[list], list)
        end
        assert.equal(case[3], (xmpp.certificate_names(certificate, "contoso.com")))
      end)
    end

    it("answers malformed for bytes that are not a certificate", function()
      local not_certificates = { "", "\48\130\1\0garbage", "-----BEGIN CERTIFICATE-----\nAAAA\n" }
      for _, bytes in ipairs(not_certificates) do
        local certificate, message, code = tls.read_certificate(bytes)
        assert.same({ nil, "malformed" }, { certificate, code })
        assert.matches("not a certificate", message)
      end
    end)
  end)

describe("xmpp.certificate_names (RFC 6125) #xmpp", function()
  local cases = {
    -- presented dNSNames, reference domain, expected match (nil: no match)
    { { "contoso.com" }, "contoso.com", "contoso.com" },
    { { "CONTOSO.com." }, "contoso.com", "CONTOSO.com." },
    { { "*.contoso.com" }, "sip.contoso.com", "*.contoso.com" },
    { { "*.contoso.com" }, "contoso.com", nil },            -- the wildcard needs one label
    { { "*.contoso.com" }, "a.b.contoso.com", nil },        -- and only one
    { { "sip.*.com" }, "sip.contoso.com", nil },            -- only the left-most label
    { { "s*.contoso.com" }, "sip.contoso.com", nil },       -- partial wildcards refused
    { { "*.com" }, "contoso.com", nil },                    -- not under a top-level domain
    { { "*" }, "contoso.com", nil },
    { { "contoso.com\0.evil.example" }, "contoso.com", nil }, -- an embedded NUL
    { { "fabrikam.com", "contoso.com" }, "contoso.com", "contoso.com" },
    { {}, "contoso.com", nil },
  }
  for _, case in ipairs(cases) do
    local presented = ("%q"):format(table.concat(case[1], ",")):gsub("\\0", "\\\\0")
    it(("%s for %s -> %s"):format(presented, case[2], tostring(case[3])), function()
      local match = xmpp.certificate_names({ dns_names = case[1] }, case[2])
      assert.equal(case[3], match)
    end)
  end

  local identifier_cases = {
    -- certificate, reference domain, expected match (nil: no match)
    { { srv_names = { "_xmpp-server.contoso.com" } }, "contoso.com",
      "_xmpp-server.contoso.com (SRV-ID)" },
    { { srv_names = { "_XMPP-Server.Contoso.COM." } }, "contoso.com",
      "_XMPP-Server.Contoso.COM. (SRV-ID)" },
    { { srv_names = { "_xmpp-client.contoso.com" } }, "contoso.com", nil },   -- c2s service
    { { srv_names = { "_xmpp-server.*.com" } }, "contoso.com", nil },
    { { srv_names = { "_xmpp-server.*.contoso.com" } }, "a.contoso.com", nil }, -- no wildcard
    { { srv_names = { "_xmpp-server.contoso.com\0.evil" } }, "contoso.com", nil },
    { { srv_names = { "xmpp-server.contoso.com" } }, "contoso.com", nil },
    { { xmpp_addresses = { "contoso.com" } }, "contoso.com", "contoso.com (XmppAddr)" },
    { { xmpp_addresses = { "user@contoso.com" } }, "contoso.com", nil },       -- not a domain
    { { xmpp_addresses = { "*.contoso.com" } }, "sip.contoso.com", nil },
    { { xmpp_addresses = { "contoso.com\0x" } }, "contoso.com", nil },
    { { dns_names = { "fabrikam.com" }, srv_names = { "_xmpp-server.contoso.com" } },
      "contoso.com", "_xmpp-server.contoso.com (SRV-ID)" },
    -- the CN counts only without any subjectAltName identifier (RFC 6125 §6.4.4)
    { { srv_names = { "_xmpp-server.fabrikam.com" }, subject_cn = "contoso.com" },
      "contoso.com", nil },
    { { xmpp_addresses = { "fabrikam.com" }, subject_cn = "contoso.com" }, "contoso.com", nil },
    { { uri_names = { "xmpp:contoso.com" }, subject_cn = "contoso.com" }, "contoso.com", nil },
    { { other_names = { "1.3.6.1.5.5.7.8.7" }, subject_cn = "contoso.com" }, "contoso.com",
      nil },                         -- an SRV-ID of the wrong string type, unread: no CN either
    { { ip_addresses = { "127.0.0.1" }, subject_cn = "contoso.com" }, "contoso.com",
      "contoso.com (subject CN; the certificate presents no subjectAltName identifier)" },
  }
  for _, case in ipairs(identifier_cases) do
    local shown = {}
    for key, value in pairs(case[1]) do
      shown[#shown + 1] = key .. "=" .. (type(value) == "table" and table.concat(value, ",")
        or value)
    end
    table.sort(shown)
    it(("%s for %s -> %s"):format(table.concat(shown, " "):gsub("%z", "\\0"), case[2],
      tostring(case[3])), function()
      assert.equal(case[3], (xmpp.certificate_names(case[1], case[2])))
    end)
  end

  it("names every presented identifier, printably, when none matches", function()
    local _, why = xmpp.certificate_names({ dns_names = { "evil\27[2J.example" },
      srv_names = { "_xmpp-server.fabrikam.com" }, xmpp_addresses = { "fabrikam.com" } },
      "contoso.com")
    assert.equal("the certificate names evil\\27[2J.example, SRV-ID _xmpp-server.fabrikam.com, "
      .. "XmppAddr fabrikam.com, not contoso.com", why)
  end)

  it("uses the subject CN only when there is no subjectAltName", function()
    assert.matches("^contoso.com %(subject CN",
      xmpp.certificate_names({ dns_names = {}, subject_cn = "contoso.com" }, "contoso.com"))
    assert.is_nil(xmpp.certificate_names({ dns_names = { "fabrikam.com" },
                                           subject_cn = "contoso.com" }, "contoso.com"))
  end)

  it("raises on misuse", function()
    assert.has_error(function() xmpp.probe("contoso.com") end)
    assert.has_error(function() xmpp.probe { domain = "not a domain" } end)
    assert.has_error(function() xmpp.probe { domain = "contoso.com", timeout = -1 } end)
    assert.has_error(function() xmpp.probe { domain = "contoso.com", deadline = 0 } end)
    assert.has_error(function() xmpp.probe { domain = "contoso.com", random = 4 } end)
  end)
end)
