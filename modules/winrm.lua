--- winrm — runs a command line on a Windows server over WS-Management (MS-WSMV), the
-- remote channel every Lync Server 2013 host has (Windows Server 2008 R2 – 2012 R2).
--
--   local winrm = require "winrm"
--   local result, err, code = winrm.run({ address = "edge2.contoso.com", user = "EDGE2\\ops",
--                                         password = "...", ca_file = "/etc/ops/ca.pem" },
--                                       "powershell -EncodedCommand ...", { stdin = nil })
--   -- result = {stdout=, stderr=, status=}
--
-- One call is one remote shell: Create, Command, Send (stdin, when given), Receive until
-- the command is Done, then Signal terminate and Delete — the last two always, also after
-- an error, a timeout or Ctrl-C (shielded from the cancellation, with short timeouts).
-- Receive waits at most operation_timeout on the server; its OperationTimeout fault
-- (2150858793) is retried until the call's own deadline, never beyond.
--
--   local process = winrm.open_process(options, command_line, { read_permit = permit })
--   process:send(data, { read_permit = }); process:receive(max, { timeout = })
--   process:stderr(); process:close()
-- A command that keeps running (a persistent PowerShell, modules/pssession.lua): one shell
-- and one command on one connection, kept with its authentication and sealing; each send a
-- Send that leaves the input open, each receive Receives until output came; close is Signal
-- terminate and Delete.
--
-- Options: address (or name), port (5986, or 5985 for http), scheme "https" (default) or
-- "http" (only when the inventory says so), auth "ntlm" (default: Edge servers are
-- workgroup hosts), "basic" or "kerberos" (libcurl's GSS-API, with a ticket from kinit),
-- user, password (the value: cmdlet.lua resolves the credential reference), ca_file,
-- timeout (per HTTP exchange, default 30), command_timeout (default 600),
-- operation_timeout (default 20), max_envelope_size (bytes, default 153600 — WinRM's
-- default MaxEnvelopeSizekb on 2008 R2 is 150).
-- Failures return nil, message, code with code "auth", "timeout", "refused", "tls",
-- "fault", "protocol" (or http's codes); no message carries the password.
local http = require "runbook.http"
local xml = require "runbook.xml"
local task = require "runbook.task"
local gss = require "runbook.gss"
local secrets = require "runbook.secrets"
local say = require "runbook.say"
local powershell = require "powershell"

local M = {}

local NS = {
  s = "http://www.w3.org/2003/05/soap-envelope",
  a = "http://schemas.xmlsoap.org/ws/2004/08/addressing",
  w = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
  p = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
  rsp = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
  f = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}
local SHELL_URI = NS.rsp .. "/cmd"
local ACTION = {
  create = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create",
  delete = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete",
  command = NS.rsp .. "/Command", send = NS.rsp .. "/Send",
  receive = NS.rsp .. "/Receive", signal = NS.rsp .. "/Signal",
}
local DONE = NS.rsp .. "/CommandState/Done"
local TERMINATE = NS.rsp .. "/signal/terminate"
local OPERATION_TIMED_OUT = "2150858793"
local CLEANUP_TIMEOUT = 5
local SOAP_TYPE = "application/soap+xml;charset=UTF-8"
local SEALED_TYPE = 'multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";'
                    .. 'boundary="Encrypted Boundary"'

-- A failure this module expects: turned into nil, message, code by run.
local function fail(code, message)
  error({ winrm = true, code = code, message = message }, 0)
end

-- ------------------------------------------------------------------ XML

local function escape(text)
  return (tostring(text):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
                                             ['"'] = "&quot;", ["'"] = "&apos;" }))
end

-- The response body as a tree of {namespace=, name=, attributes=, text=, children}.
local function parse_tree(body)
  local parser = xml.parser { max_buffer = 1 << 24, max_text = 1 << 24 }
  local events, message = parser:feed(body)
  if events then
    local tail, err = parser:finish()
    if not tail then events, message = nil, err end
    for _, e in ipairs(tail or {}) do events[#events + 1] = e end
  end
  if not events then return nil, message end
  local root, stack = { children = {} }, {}
  local current = root
  for _, e in ipairs(events) do
    if e.type == "start" then
      local node = { namespace = e.namespace, name = e.name, attributes = e.attributes,
                     text = "", children = {} }
      current.children[#current.children + 1] = node
      stack[#stack + 1] = current
      current = node
    elseif e.type == "end" then
      current = table.remove(stack)
    else
      current.text = current.text .. e.text
    end
  end
  return root
end

-- Every element named ns:name below node, depth first.
local function find_all(node, ns, name, found)
  found = found or {}
  for _, child in ipairs(node.children) do
    if child.name == name and child.namespace == ns then found[#found + 1] = child end
    find_all(child, ns, name, found)
  end
  return found
end

local function find(node, ns, name)
  return find_all(node, ns, name)[1]
end

-- ------------------------------------------------------------------ messages

local function uuid()
  local f = assert(io.open("/dev/urandom", "rb"))
  local b = { f:read(16):byte(1, 16) }
  f:close()
  b[7], b[9] = (b[7] & 0x0f) | 0x40, (b[9] & 0x3f) | 0x80
  return ("%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X")
         :format(table.unpack(b))
end

local function duration(seconds)
  return ("PT%.3fS"):format(seconds)
end

-- opts: shell_id=, options={{name, value}...}, timeout= (OperationTimeout seconds)
local function envelope(session, action, body, opts)
  local header = {
    '<s:Envelope xmlns:s="', NS.s, '" xmlns:a="', NS.a, '" xmlns:w="', NS.w,
    '" xmlns:p="', NS.p, '" xmlns:rsp="', NS.rsp, '"><s:Header>',
    '<a:To>', escape(session.url), '</a:To>',
    '<a:ReplyTo><a:Address s:mustUnderstand="true">',
    'http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>',
    '<w:ResourceURI s:mustUnderstand="true">', SHELL_URI, '</w:ResourceURI>',
    '<a:Action s:mustUnderstand="true">', action, '</a:Action>',
    '<a:MessageID>uuid:', uuid(), '</a:MessageID>',
    '<w:MaxEnvelopeSize s:mustUnderstand="true">', session.max_envelope_size,
    '</w:MaxEnvelopeSize>',
    '<w:Locale xml:lang="en-US" s:mustUnderstand="false"/>',
    '<p:DataLocale xml:lang="en-US" s:mustUnderstand="false"/>',
    '<w:OperationTimeout>', duration(opts.timeout or session.operation_timeout),
    '</w:OperationTimeout>',
  }
  if opts.shell_id then
    header[#header + 1] = '<w:SelectorSet><w:Selector Name="ShellId">' .. escape(opts.shell_id)
                          .. '</w:Selector></w:SelectorSet>'
  end
  if opts.options then
    header[#header + 1] = '<w:OptionSet>'
    for _, option in ipairs(opts.options) do
      header[#header + 1] = ('<w:Option Name="%s">%s</w:Option>'):format(option[1], option[2])
    end
    header[#header + 1] = '</w:OptionSet>'
  end
  header[#header + 1] = '</s:Header><s:Body>' .. (body or "") .. '</s:Body></s:Envelope>'
  return table.concat(header)
end

-- ------------------------------------------------------------------ HTTP and auth

local function auth_failed(session, offered)
  if session.auth == "kerberos" then
    fail("auth", ("WinRM on %s refused the Kerberos ticket of %s for HTTP/%s: check that the "
                  .. "server's clock is within 5 minutes of the KDC's, that HTTP/%s is "
                  .. "registered to this server (setspn -L <computer>) and its key current, "
                  .. "and that the account is an administrator there"):format(
                  session.host, session.user, session.host, session.host))
  end
  local plain = session.url:match("^http:") and not session.seal
  fail("auth", ("authentication failed for user %s on host %s over WinRM/%s: check the user "
                .. "(HOST\\user for a local account of a workgroup server), the password and "
                .. "that the account is an administrator there%s%s"):format(
                session.user, session.host, session.auth_label,
                offered and (" (the server offers: " .. offered .. ")") or "",
                plain and ("; over plain HTTP the service also refuses every unencrypted "
                           .. "message unless AllowUnencrypted is true (Windows ships it "
                           .. "false): leave allow_unencrypted out so that runbook seals "
                           .. "them, or use https") or ""))
end

local function unencrypted_refused(session)
  fail("auth", ("WinRM on %s refused a sealed message of user %s right after accepting the "
                .. "authentication"):format(session.host, session.user))
end

local function exchange(session, request)
  local response, message, code = session.conn:request(request)
  if not response then
    fail(code or "failed", ("WinRM to %s: %s"):format(session.host, message))
  end
  return response
end

-- The request with a GSS token in `Authorization: Negotiate`, and body if given. A token
-- may carry a ticket: its text is registered with the secrets, so no output shows it.
local function with_token(request, token, body)
  local copy = {}
  for k, v in pairs(request) do copy[k] = v end
  local text = powershell.base64(token)
  secrets.protect(text)
  copy.headers = { ["Content-Type"] = request.headers["Content-Type"],
                   Authorization = "Negotiate " .. text }
  copy.body = body or request.body
  copy.seal = nil
  return copy
end

-- The next token of the handshake, or the failure in the operator's words.
local function step(session, context, token)
  local reply, message, code = context:step(token)
  if not reply then
    fail(code, ("WinRM/%s to %s as %s: %s"):format(session.auth_label, session.host,
                                                  session.user, message))
  end
  return reply, message
end

-- A fresh security context for this connection (runbook.gss: NTLM through gss-ntlmssp,
-- Kerberos through MIT's GSS-API; the service principal is HTTP/<the server's name>).
local function new_context(session, binding)
  return gss.initiator { mech = session.auth, target = "HTTP@" .. session.host,
                         user = session.user ~= "" and session.user or nil,
                         password = session.password ~= "" and session.password or nil,
                         ccache = session.ccache, channel_binding = binding }
end

-- RFC 5929's tls-server-end-point of the listener's certificate, from a response that
-- opened the connection (asked with certificate = true).
local function channel_binding(response)
  return response.certificate and gss.tls_server_end_point(response.certificate)
end

-- The Negotiate handshake on this connection (MS-WSMV 3.1.4.1.5). Without sealing its
-- last leg carries the request; with sealing every leg is empty and the request follows
-- sealed with the new context. Over HTTPS the token binds to the TLS channel: Kerberos
-- needs the certificate before its first token (one unauthenticated round trip), NTLM
-- before its last.
local function negotiate(session, request)
  local https, binding = session.url:match("^https:"), nil
  local body = session.seal and "" or nil
  if https and session.auth == "kerberos" then
    local probe = with_token(request, "", "")
    probe.headers.Authorization, probe.certificate = nil, true
    binding = channel_binding(exchange(session, probe))
  end
  local context = new_context(session, binding)
  session.context = context
  local token, established = step(session, context)
  local first = true
  while true do
    local leg = with_token(request, token, body)
    leg.certificate = https and first or nil
    local response = exchange(session, leg)
    local offered = response.headers["www-authenticate"]
    local reply = (offered or ""):match("Negotiate%s+([%w+/=]+)")
    reply = reply and powershell.unbase64(reply)
    if https and first and not binding then
      binding = channel_binding(response)
      if binding then context:bind(binding) end
    end
    first = false
    if response.status == 401 then
      if established or not reply then auth_failed(session, offered) end
      token, established = step(session, context, reply)
    else
      if not established then
        if not reply then
          fail("auth", ("WinRM/%s on %s answered without completing the mutual "
                        .. "authentication"):format(session.auth_label, session.host))
        end
        step(session, context, reply)
      end
      session.authenticated = true
      return response
    end
  end
end

-- The request as it goes: sealed with the connection's context where the session seals.
local function sealed(session, request)
  if not session.seal then return request end
  request.seal = session.context
  request.headers["Content-Type"] = SEALED_TYPE
  return request
end

-- One request on the authenticated connection, authenticating it first where needed.
local function gss_request(session, request)
  if not session.authenticated then
    local response = negotiate(session, request)
    if not session.seal then return response end
  end
  local response = exchange(session, sealed(session, request))
  if response.status == 401 then           -- the server closed the authenticated connection
    session.authenticated = false
    request.headers["Content-Type"] = SOAP_TYPE
    local answer = negotiate(session, request)
    if not session.seal then return answer end
    response = exchange(session, sealed(session, request))
    if response.status == 401 then unencrypted_refused(session) end
  end
  return response
end

-- POSTs one envelope; returns the parsed response tree, or the fault as a second result.
-- input_permit: a session's Send, the read permit of the script it carries (runtime/http.c).
local function post(session, body, timeout, input_permit)
  local request = { method = "POST", url = session.url, body = body, timeout = timeout,
                    ca_file = session.ca_file, headers = { ["Content-Type"] = SOAP_TYPE },
                    input_permit = input_permit }
  local response
  if session.auth ~= "basic" then
    response = gss_request(session, request)
  else
    request.auth, request.user, request.password = "basic", session.user, session.password
    response = exchange(session, request)
    if response.status == 401 then auth_failed(session, response.headers["www-authenticate"]) end
  end
  local tree = (response.status == 200 or response.status == 500) and parse_tree(response.body)
  if response.status == 500 and tree and find(tree, NS.s, "Fault") then
    local fault = find(tree, NS.s, "Fault")
    local detail = find(fault, NS.f, "WSManFault")
    local text = detail and find(detail, NS.f, "Message")
    local reason = find(fault, NS.s, "Text")
    return nil, { code = detail and detail.attributes.Code,
                  message = ((text or reason or {}).text or "no reason given")
                    :match("^%s*(.-)%s*$") }
  end
  if response.status ~= 200 or not tree then
    fail("protocol", ("WinRM on %s answered HTTP %d%s"):format(session.host, response.status,
         response.body ~= "" and (": " .. response.body:sub(1, 200)) or ""))
  end
  return tree
end

local function post_or_fail(session, what, body, timeout, input_permit)
  local tree, fault = post(session, body, timeout, input_permit)
  if not tree then
    fail(fault.code == OPERATION_TIMED_OUT and "timeout" or "fault",
         ("WinRM on %s refused %s: %s (WSManFault %s)"):format(session.host, what,
         fault.message, tostring(fault.code)))
  end
  return tree
end

-- ------------------------------------------------------------------ the shell

local function create_shell(session)
  local body = '<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams>'
               .. '<rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>'
  local tree = post_or_fail(session, "to create a shell", envelope(session, ACTION.create, body,
    { options = { { "WINRS_NOPROFILE", "TRUE" }, { "WINRS_CODEPAGE", "65001" } } }),
    session.timeout)
  local id = find(tree, NS.rsp, "ShellId")
  if not id then
    fail("protocol", "WinRM on " .. session.host .. " created a shell without ShellId")
  end
  return id.text
end

local function start_command(session, shell_id, command_line)
  local body = '<rsp:CommandLine><rsp:Command>' .. escape(command_line)
               .. '</rsp:Command></rsp:CommandLine>'
  local tree = post_or_fail(session, "the command", envelope(session, ACTION.command, body,
    { shell_id = shell_id, options = { { "WINRS_CONSOLEMODE_STDIN", "TRUE" },
                                       { "WINRS_SKIP_CMD_SHELL", "FALSE" } } }),
    session.timeout)
  local id = find(tree, NS.rsp, "CommandId")
  if not id then
    fail("protocol", "WinRM on " .. session.host .. " started a command without CommandId")
  end
  return id.text
end

-- stdin in pieces that keep each envelope under MaxEnvelopeSize (base64 grows by 4/3), the
-- last one saying End unless the input stays open (a session: options.open, and each piece
-- carries options.input_permit, the script's read permit).
local function send_input(session, shell_id, command_id, data, options)
  options = options or {}
  local piece = ((session.max_envelope_size - 4096) // 4) * 3
  for at = 1, math.max(#data, 1), piece do
    local last = at + piece > #data and not options.open
    local body = ('<rsp:Send><rsp:Stream Name="stdin" CommandId="%s"%s>%s</rsp:Stream></rsp:Send>')
                 :format(escape(command_id), last and ' End="true"' or "",
                         powershell.base64(data:sub(at, at + piece - 1)))
    post_or_fail(session, "stdin", envelope(session, ACTION.send, body, { shell_id = shell_id }),
                 session.timeout, options.input_permit)
  end
end

-- One Receive, waiting at most `wait` seconds on the server: the output it brought appended
-- to out and err; the exit status once the command is Done; nothing when the server's
-- OperationTimeout passed first.
local function receive_once(session, shell_id, command_id, wait, out, err)
  local body = ('<rsp:Receive><rsp:DesiredStream CommandId="%s">stdout stderr'
                .. '</rsp:DesiredStream></rsp:Receive>'):format(escape(command_id))
  local tree, fault = post(session, envelope(session, ACTION.receive, body,
                                             { shell_id = shell_id, timeout = wait }), wait + 5)
  if not tree then
    if fault.code == OPERATION_TIMED_OUT then return nil end
    fail("fault", ("WinRM on %s refused to return output: %s (WSManFault %s)")
                  :format(session.host, fault.message, tostring(fault.code)))
  end
  for _, stream in ipairs(find_all(tree, NS.rsp, "Stream")) do
    local bytes = powershell.unbase64((stream.text:gsub("%s", ""))) or ""
    local into = stream.attributes.Name == "stderr" and err or out
    into[#into + 1] = bytes
  end
  local state = find(tree, NS.rsp, "CommandState")
  if state and state.attributes.State == DONE then
    local code = find(state, NS.rsp, "ExitCode")
    return math.tointeger(tonumber(code and code.text)) or -1
  end
end

-- Seconds the next Receive may wait on the server before the deadline.
local function receive_wait(session, deadline)
  return math.min(session.operation_timeout, math.max(deadline - task.now(), 0.1))
end

-- Receives until Done or the deadline; OperationTimeout faults are waited through.
local function receive_all(session, shell_id, command_id, deadline)
  local out, err = {}, {}
  while true do
    if deadline - task.now() <= 0 then
      fail("timeout", ("WinRM on %s: the command did not finish within %g s (command_timeout)")
                      :format(session.host, session.command_timeout))
    end
    local status = receive_once(session, shell_id, command_id, receive_wait(session, deadline),
                                out, err)
    if status then
      return { stdout = table.concat(out), stderr = table.concat(err), status = status }
    end
  end
end

-- Signal terminate and Delete: best effort, shielded, each bounded.
local function close_shell(session, shell_id, command_id)
  task.shielded(function()
    if command_id then
      local body = ('<rsp:Signal CommandId="%s"><rsp:Code>%s</rsp:Code></rsp:Signal>')
                   :format(escape(command_id), TERMINATE)
      pcall(post, session, envelope(session, ACTION.signal, body, { shell_id = shell_id }),
            CLEANUP_TIMEOUT)
    end
    pcall(post, session, envelope(session, ACTION.delete, "", { shell_id = shell_id }),
          CLEANUP_TIMEOUT)
  end)
end

-- ------------------------------------------------------------------ entry point

local AUTH_LABEL = { ntlm = "NTLM", basic = "Basic", kerberos = "Kerberos" }

-- allow_unencrypted: said once per host and process, before the first exchange.
local warned = {}
local function warn_unencrypted(host)
  if warned[host] then return end
  warned[host] = true
  say.warn(("WinRM to %s over plain HTTP without encryption (allow_unencrypted = true): "
            .. "the credentials' exchange and every command and result cross the network "
            .. "readable; leave allow_unencrypted out to seal them"):format(host))
end

local function new_session(options)
  local scheme = options.scheme or "https"
  assert(scheme == "https" or scheme == "http",
         "[winrm] scheme must be \"https\" or \"http\", not " .. tostring(scheme))
  local auth = options.auth or "ntlm"
  assert(AUTH_LABEL[auth], "[winrm] auth must be ntlm, basic or kerberos, not " .. tostring(auth))
  local host = options.address or options.name
  assert(host, "[winrm] the host has no address or name")
  local port = options.port or (scheme == "https" and 5986 or 5985)
  local seal = scheme == "http" and not options.allow_unencrypted
  if seal and auth == "basic" then
    error(("[winrm] %s: auth = \"basic\" over plain HTTP cannot seal its messages: use "
           .. "ntlm or kerberos (sealed, MS-WSMV 2.2.9.1), or https; allow_unencrypted = true "
           .. "sends the password and every result readable"):format(options.name or host), 0)
  end
  if scheme == "http" and not seal then warn_unencrypted(options.name or host) end
  return {
    host = options.name or host, auth = auth, auth_label = AUTH_LABEL[auth],
    seal = seal, ccache = options.ccache,
    url = ("%s://%s:%d/wsman"):format(scheme, host:find(":", 1, true) and "[" .. host .. "]"
                                      or host, port),
    user = options.user or "", password = options.password or "", ca_file = options.ca_file,
    timeout = options.timeout or 30, command_timeout = options.command_timeout or 600,
    operation_timeout = options.operation_timeout or 20,
    max_envelope_size = options.max_envelope_size or 153600,
  }
end

--- run(options, command_line, {stdin=, timeout=, read_permit=}) -> {stdout=, stderr=,
--   status=} | nil, message, code
-- Every exchange is a POST: while planning and inside a check the connection refuses them
-- unless read_permit (runbook.permit, from the cmdlet layer) proves command_line a read.
function M.run(options, command_line, run_options)
  run_options = run_options or {}
  local session = new_session(options)
  if run_options.timeout then session.command_timeout = run_options.timeout end
  local conn <close> = http.connection { read_permit = run_options.read_permit }
  session.conn = conn
  local deadline = task.now() + session.command_timeout
  local shell_id, command_id
  local ok, result = pcall(function()
    shell_id = create_shell(session)
    command_id = start_command(session, shell_id, command_line)
    if run_options.stdin then send_input(session, shell_id, command_id, run_options.stdin) end
    return receive_all(session, shell_id, command_id, deadline)
  end)
  if shell_id then close_shell(session, shell_id, command_id) end
  if ok then return result end
  if type(result) == "table" and result.winrm then return nil, result.message, result.code end
  error(result, 0)
end

-- ------------------------------------------------------------------ a persistent process
-- One shell and one command that keeps running for the whole run (a persistent PowerShell,
-- modules/pssession.lua), on one connection kept with its authentication and its sealing:
-- a Send for each script (its input stays open), Receive until its answer came, and at the
-- end Signal terminate and Delete.

local PROCESS_STDERR_KEEP = 4096   -- what a process keeps of its stderr (its first words)

local Process = {}
Process.__index = Process

-- fn's results, or this module's failure as nil, message, code.
local function guarded(fn, ...)
  local outcome = table.pack(pcall(fn, ...))
  if outcome[1] then return table.unpack(outcome, 2, outcome.n) end
  local err = outcome[2]
  if type(err) == "table" and err.winrm then return nil, err.message, err.code end
  error(err, 0)
end

--- process:send(data, {read_permit=}) -> true | nil, message, code: data to the command's
-- input, which stays open; read_permit (a permit for exactly data) while mutation is refused.
function Process:send(data, options)
  if self.exit_status then return nil, self:ended(), "closed" end
  return guarded(function()
    send_input(self.session, self.shell_id, self.command_id, data,
               { open = true, input_permit = (options or {}).read_permit })
    return true
  end)
end

-- Why the process can answer no more.
function Process:ended()
  return ("WinRM on %s: the PowerShell session's process ended (exit code %d)")
         :format(self.session.host, self.exit_status)
end

-- One Receive into the process's buffers.
function Process:receive_once(deadline)
  local out, err = {}, {}
  self.exit_status = receive_once(self.session, self.shell_id, self.command_id,
                                  receive_wait(self.session, deadline), out, err)
  self.pending = self.pending .. table.concat(out)
  local said = table.concat(err)
  self.err = self.err .. said:sub(1, PROCESS_STDERR_KEEP - #self.err)
  return true
end

--- process:receive(max, {timeout=}) -> at most max bytes of stdout, as they come
--   | nil, message, code ("timeout"; "closed" once the process ended and all was read)
function Process:receive(max, options)
  local timeout = (options or {}).timeout or self.session.command_timeout
  local deadline = task.now() + timeout
  while self.pending == "" do
    if self.exit_status then return nil, self:ended(), "closed" end
    if deadline - task.now() <= 0 then
      return nil, ("WinRM on %s: no answer within %g s (command_timeout)")
                  :format(self.session.host, timeout), "timeout"
    end
    local ok, err, code = guarded(self.receive_once, self, deadline)
    if not ok then return nil, err, code end
  end
  local data = self.pending:sub(1, max)
  self.pending = self.pending:sub(#data + 1)
  return data
end

--- process:stderr() -> the first words the command wrote to stderr.
function Process:stderr()
  return self.err
end

--- process:close(): Signal terminate and Delete (shielded, each bounded), then the
-- connection; safe to call twice.
function Process:close()
  if self.closed then return end
  self.closed = true
  if self.shell_id then close_shell(self.session, self.shell_id, self.command_id) end
  self.conn:close()
end

--- open_process(options, command_line, {read_permit=, timeout=}) -> process
--   | nil, message, code
-- Starts command_line in a shell of its own and leaves it running (options as run's).
-- read_permit is needed in every mode: the connection carries only this command's exchange
-- (runtime/http.c, session = true), so that its Receives go on in a read-only task too;
-- each send then carries the permit of its own bytes while mutation is refused.
function M.open_process(options, command_line, open_options)
  local session = new_session(options)
  local conn = http.connection { read_permit = open_options.read_permit, session = true }
  session.conn = conn
  local process = setmetatable({ session = session, conn = conn, pending = "", err = "" },
                               Process)
  local ok, err, code = guarded(function()
    process.shell_id = create_shell(session)
    process.command_id = start_command(session, process.shell_id, command_line)
    return true
  end)
  if ok then return process end
  process:close()
  return nil, err, code
end

return M
