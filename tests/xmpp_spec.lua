-- modules/xmpp.lua: the server-to-server probe, stage by stage, against a real Prosody
-- (tests/lab/prosody.sh), one presenting a certificate for the wrong domain, and hostile
-- peers (tests/lab/hostile.sh). Addresses 127.0.52.3-6. #xmpp
local xmpp = require "xmpp"
local lab = require "lab"
local lab_lock = require "lab_lock"
local support = require "support"

local GOOD, WRONG, HOSTILE, NOBODY = "127.0.52.3", "127.0.52.4", "127.0.52.5", "127.0.52.6"

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
    local net, task = require "runbook.net", require "runbook.task"
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

  it("fails at the stream stage on a peer that is not XMPP (an echo server)", function()
    local result = probe_port(peers.echo)
    assert.equal("stream", result.failed)
    assert.is_false(result.stream.ok)
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
  end)
end)
