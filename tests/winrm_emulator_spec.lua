-- The WS-Management emulator (tests/lab/winrm_emulator.py, started by tests/lab/winrm.sh)
-- proven faithful with an independent client, python3-winrm (tests/lab/winrm_client.py):
-- Basic and NTLM over HTTPS, plain HTTP, the shell lifecycle, PowerShell's error record,
-- OperationTimeout retries, MaxEnvelopeSize; and Windows' 401 and fault as curl sees them.
-- Addresses 127.0.23.60 (HTTPS) and 127.0.23.61 (HTTP), each on an automatic port.
local cjson = require "cjson"
local lab = require "helpers.servers"
local powershell = require "powershell"
local support = require "support"
local quote = support.quote

local ADDRESS, PLAIN_ADDRESS = "127.0.23.60", "127.0.23.61"

local function command_line(cmdlet, parameters)
  return powershell.command_line(powershell.wrap(powershell.command(cmdlet, parameters or {})))
end

describe("the WinRM emulator, as python3-winrm sees it", function()
  local server, plain

  setup(function()
    server = lab.start("winrm", "auto", ADDRESS)
    plain = lab.start("winrm", "--http", "auto", PLAIN_ADDRESS)
  end)
  teardown(function()
    lab.stop(server)
    lab.stop(plain)
  end)
  before_each(function() os.remove(server.state_dir .. "/" .. ADDRESS .. ".json") end)
  after_each(function() support.write(server.control, "{}") end)

  local function endpoint(instance, address)
    return ("%s://%s:%s/wsman"):format(instance.scheme, address, instance.port)
  end

  -- client{line=, transport=, password=, url=, timeout=, max_envelope_size=} -> the
  -- decoded JSON winrm_client.py printed, its exit code
  local function client(options)
    local words = { options.url or endpoint(server, ADDRESS), options.transport or "basic",
                    server.user, options.password or server.password, server.ca_file,
                    options.line or command_line("Get-CsSite"), options.timeout or 20,
                    options.max_envelope_size }
    for i, word in ipairs(words) do words[i] = quote(word) end
    local r = support.sh(("OPENSSL_CONF=%s /usr/bin/python3 tests/lab/winrm_client.py %s")
                         :format(quote(server.openssl_conf), table.concat(words, " ")))
    local ok, result = pcall(cjson.decode, r.out)
    assert(ok, "winrm_client.py printed no JSON:\n" .. r.out .. r.err)
    return result, r.code
  end

  local function log_lines(instance)
    local lines = {}
    for line in support.slurp((instance or server).log):gmatch("[^\n]+") do
      lines[#lines + 1] = line
    end
    return lines
  end

  -- the log lines written after mark (a count of lines), as one string
  local function log_since(mark, instance)
    return table.concat(log_lines(instance), "\n", mark + 1)
  end

  local function escaped(id) return (id:gsub("%-", "%%-")) end

  it("answers Get-CsSite over HTTPS with Basic auth", function()
    local result = client {}
    assert.equal(0, result.status, result.error)
    local sites = cjson.decode(result.stdout)
    assert.equal(2, #sites)
    assert.equal("Site:Site1", sites[1].Identity)
    assert.equal("EdgeServer:edgepool1.contoso.com", sites[1].XmppFederationRoute)
    assert.equal("", result.stderr)
  end)

  it("authenticates NTLM once per connection and logs the shell's lifecycle in order", function()
    local mark = #log_lines()
    local result = client { transport = "ntlm" }
    assert.equal(0, result.status, result.error)
    assert.equal(2, #cjson.decode(result.stdout))
    local log = log_since(mark)
    local _, handshakes = log:gsub("auth ok ntlm administrator", "")
    assert.equal(1, handshakes)
    local shell = assert(log:match("create (%S+)"))
    local command = assert(log:match("command " .. escaped(shell) .. " (%S+)"))
    local last = 0
    for _, pattern in ipairs { "create " .. escaped(shell), "command " .. escaped(shell),
                               "receive " .. escaped(command) .. " Done",
                               "signal " .. escaped(command) .. " terminate",
                               "delete " .. escaped(shell) } do
      local at = assert(log:find(pattern, last + 1), pattern)
      last = at
    end
  end)

  for _, transport in ipairs { "basic", "ntlm" } do
    it("refuses a wrong password over " .. transport .. " with 401", function()
      local mark = #log_lines()
      local result, code = client { transport = transport, password = "not-the-password" }
      assert.equal(1, code)
      assert.matches("^InvalidCredentialsError: the specified credentials were rejected",
                     result.error)
      local log = log_since(mark)
      assert.matches("auth failed " .. transport .. " administrator", log, 1, true)
      assert.is_nil(log:find("create", 1, true))
      assert.is_nil(log:find("not-the-password", 1, true))
    end)
  end

  it("returns PowerShell's error record on stdout with status 1", function()
    local result = client { line = command_line("Set-CsSite", { Identity = "Site9",
                                                                Description = "x" }) }
    assert.equal(1, result.status)
    local record = cjson.decode(result.stdout)
    assert.equal('Cannot set "Site" "Site9" because it does not exist.', record.message)
    assert.equal("ObjectNotFound", record.category)
  end)

  it("faults Receive with w:TimedOut until the delayed command is done", function()
    support.write(server.control, cjson.encode { delay = 2.5 })
    local mark = #log_lines()
    local result = client { transport = "ntlm", timeout = 1 }
    assert.equal(0, result.status, result.error)
    assert.equal(2, #cjson.decode(result.stdout))
    local log = log_since(mark)
    local command = assert(log:match("receive (%S+) timeout"))
    assert.matches("receive " .. escaped(command) .. " timeout\n.*receive " .. escaped(command)
                   .. " Done", log)
  end)

  it("cuts Receive output into envelopes of the request's MaxEnvelopeSize", function()
    local long = ("0123456789"):rep(2000)
    local set = client { line = command_line("Set-CsSite", { Identity = "Site2",
                                                             Description = long }) }
    assert.equal(0, set.status, set.error)
    local mark = #log_lines()
    local result = client { line = command_line("Get-CsSite", { Identity = "Site2" }),
                            max_envelope_size = 8192 }
    assert.equal(0, result.status, result.error)
    assert.equal(long, cjson.decode(result.stdout)[1].Description)
    local _, running = log_since(mark):gsub("receive %S+ Running", "")
    assert.is_true(running >= 2, "Running answers: " .. running)
  end)

  it("serves plain HTTP with Basic auth", function()
    local mark = #log_lines(plain)
    local result = client { url = endpoint(plain, PLAIN_ADDRESS) }
    assert.equal(0, result.status, result.error)
    assert.equal(2, #cjson.decode(result.stdout))
    assert.matches("auth ok basic administrator", log_since(mark, plain), 1, true)
  end)
end)

describe("the WinRM emulator, as curl sees it", function()
  local server

  setup(function() server = lab.start("winrm", "--http", "auto", "127.0.23.62") end)
  teardown(function() lab.stop(server) end)

  local function post(body, extra)
    return support.sh(("curl -s -i -X POST -H %s --data-binary @- %s %s"):format(
      quote("Content-Type: application/soap+xml;charset=UTF-8"), extra or "",
      quote(("http://127.0.23.62:%s/wsman"):format(server.port))), body)
  end

  it("challenges with Negotiate and Basic, and an empty 401", function()
    local r = post("<s:Envelope/>")
    assert.matches("^HTTP/1.1 401 ", r.out)
    assert.matches("\r\nWWW%-Authenticate: Negotiate\r\n", r.out)
    assert.matches('\r\nWWW%-Authenticate: Basic realm="WSMAN"\r\n', r.out)
    assert.matches("\r\nServer: Microsoft%-HTTPAPI/2%.0\r\n", r.out)
    assert.matches("\r\nContent%-Length: 0\r\n", r.out)
  end)

  it("faults an unknown ShellId with w:InvalidSelectors and WSManFault 2150858843", function()
    local r = post([[<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
      xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"
      xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header>
      <a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete</a:Action>
      <a:MessageID>uuid:0D9E1A7B-6C51-4F8E-9B0A-2F5C7E3D1A90</a:MessageID>
      <w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>
      <w:SelectorSet><w:Selector Name="ShellId">NO-SUCH-SHELL</w:Selector></w:SelectorSet>
      </s:Header><s:Body/></s:Envelope>]],
      "-u " .. quote(server.user .. ":" .. server.password))
    assert.matches("^HTTP/1.1 500 ", r.out)
    assert.matches("<a:RelatesTo>uuid:0D9E1A7B%-6C51%-4F8E%-9B0A%-2F5C7E3D1A90</a:RelatesTo>",
                   r.out)
    assert.matches("<s:Value>s:Sender</s:Value><s:Subcode><s:Value>w:InvalidSelectors", r.out)
    assert.matches('Code="2150858843" Machine="127.0.23.62"', r.out, 1, true)
    assert.matches("The request for the Windows Remote Shell with ShellId NO-SUCH-SHELL failed "
                   .. "because the shell was not found on the server.", r.out, 1, true)
  end)
end)

-- The service as Windows ships it (HTTP 5985, AllowUnencrypted false, Basic off, Negotiate
-- on) and an HTTPS listener with CbtHardeningLevel Strict, proven with python3-winrm:
-- message encryption (MS-WSMV 2.2.9.1) over NTLM is accepted, an unsealed message is not;
-- the TLS channel binding requests_ntlm sends is accepted, its absence is not.
describe("the WinRM emulator with Windows' own settings, as python3-winrm sees it", function()
  local SHIPPED, STRICT = "127.0.23.63", "127.0.23.64"
  local shipped, strict

  setup(function()
    shipped = lab.start("winrm", "--shipped", "auto", SHIPPED)
    strict = lab.start("winrm", "--cbt", "strict", "auto", STRICT)
  end)
  teardown(function()
    lab.stop(shipped)
    lab.stop(strict)
  end)

  -- client(instance, address, transport, encryption[, cbt]) -> decoded JSON, exit code
  local function client(instance, address, transport, encryption, cbt)
    local url = ("%s://%s:%s/wsman"):format(instance.scheme, address, instance.port)
    local words = { url, transport, instance.user, instance.password, instance.ca_file,
                    command_line("Get-CsSite"), 20, "", encryption, cbt or "cbt" }
    for i, word in ipairs(words) do words[i] = quote(word) end
    local r = support.sh(("OPENSSL_CONF=%s /usr/bin/python3 tests/lab/winrm_client.py %s")
                         :format(quote(instance.openssl_conf), table.concat(words, " ")))
    local ok, result = pcall(cjson.decode, r.out)
    assert(ok, "winrm_client.py printed no JSON:\n" .. r.out .. r.err)
    return result, r.code
  end

  local function log_of(instance) return support.slurp(instance.log) end

  it("runs a command over HTTP with NTLM message encryption, every message sealed", function()
    local before = #log_of(shipped)
    local result = client(shipped, SHIPPED, "ntlm", "always")
    assert.equal(0, result.status, result.error)
    assert.equal(2, #cjson.decode(result.stdout))
    local log = log_of(shipped):sub(before + 1)
    assert.matches("auth ok ntlm administrator", log, 1, true)
    local _, operations = log:gsub("\n[a-z]+ [%x%-]+", "")
    local _, sealed = log:gsub("sealed ntlm %d+", "")
    assert.equal(5, operations)          -- create, command, receive, signal, delete
    assert.equal(operations, sealed)
  end)

  it("refuses an unsealed message with 401 (AllowUnencrypted false)", function()
    local before = #log_of(shipped)
    local result, code = client(shipped, SHIPPED, "ntlm", "never")
    assert.equal(1, code)
    assert.matches("^InvalidCredentialsError", result.error)
    local log = log_of(shipped):sub(before + 1)
    assert.matches("auth refused unencrypted", log, 1, true)
    assert.is_nil(log:find("create", 1, true))
  end)

  it("neither offers nor accepts Basic over HTTP", function()
    local before = #log_of(shipped)
    local result, code = client(shipped, SHIPPED, "basic", "never")
    assert.equal(1, code)
    assert.matches("^InvalidCredentialsError", result.error)
    assert.matches("auth refused basic", log_of(shipped):sub(before + 1), 1, true)
  end)

  it("accepts NTLM bound to the TLS channel under CbtHardeningLevel Strict", function()
    local result = client(strict, STRICT, "ntlm", "never")
    assert.equal(0, result.status, result.error)
    assert.equal(2, #cjson.decode(result.stdout))
  end)

  it("refuses NTLM without a channel binding under CbtHardeningLevel Strict", function()
    local before = #log_of(strict)
    local result, code = client(strict, STRICT, "ntlm", "never", "nocbt")
    assert.equal(1, code)
    assert.matches("^InvalidCredentialsError", result.error)
    assert.matches("auth failed ntlm administrator", log_of(strict):sub(before + 1), 1, true)
  end)
end)

-- UAC's remote restrictions (LocalAccountTokenFilterPolicy, absent = 0 as Windows ships): a
-- local administrator other than the built-in one authenticates, then gets 401 as for a wrong
-- password; with the policy at 1 it gets in. python3-winrm sees both.
describe("the WinRM emulator with a local administrator other than the built-in one", function()
  local FILTERED, UNFILTERED = "127.0.23.65", "127.0.23.66"
  local filtered, unfiltered

  setup(function()
    filtered = lab.start("winrm", "--shipped", "--user", "ops", "auto", FILTERED)
    unfiltered = lab.start("winrm", "--shipped", "--user", "ops", "--token-filter", "1", "auto",
                           UNFILTERED)
  end)
  teardown(function()
    lab.stop(filtered)
    lab.stop(unfiltered)
  end)

  local function client(instance, address)
    local words = { ("http://%s:%s/wsman"):format(address, instance.port), "ntlm",
                    "EDGE2\\" .. instance.user, instance.password, instance.ca_file,
                    command_line("Get-CsSite"), 20, "", "always" }
    for i, word in ipairs(words) do words[i] = quote(word) end
    local r = support.sh(("OPENSSL_CONF=%s /usr/bin/python3 tests/lab/winrm_client.py %s")
                         :format(quote(instance.openssl_conf), table.concat(words, " ")))
    local ok, result = pcall(cjson.decode, r.out)
    assert(ok, "winrm_client.py printed no JSON:\n" .. r.out .. r.err)
    return result, r.code
  end

  it("authenticates EDGE2\\ops over NTLM, then refuses it with 401 (a filtered token)",
     function()
    local result, code = client(filtered, FILTERED)
    assert.equal(1, code)
    assert.matches("^InvalidCredentialsError", result.error)
    local log = support.slurp(filtered.log)
    assert.matches("auth ok ntlm ops\naccess denied ops filtered-token", log, 1, true)
    assert.is_nil(log:find("create", 1, true))
  end)

  it("lets EDGE2\\ops in with LocalAccountTokenFilterPolicy 1", function()
    local result = client(unfiltered, UNFILTERED)
    assert.equal(0, result.status, result.error)
    assert.equal(2, #cjson.decode(result.stdout))
  end)
end)
