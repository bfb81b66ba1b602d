--- support — helpers shared by the specs: run a command and capture what it printed,
-- make scratch directories, write files. Nothing here waits by sleeping.
local M = {}

M.root = os.getenv("PWD")
M.bin = os.getenv("RUNBOOK_BIN") or (M.root .. "/runbook")

local function slurp(path)
  local file = io.open(path, "rb")
  if not file then return "" end
  local text = file:read("a")
  file:close()
  return text
end
M.slurp = slurp

function M.write(path, text)
  local file = assert(io.open(path, "wb"))
  file:write(text)
  file:close()
  return path
end

function M.quote(word)
  return "'" .. tostring(word):gsub("'", "'\\''") .. "'"
end

function M.tmpdir()
  local pipe = io.popen("mktemp -d /tmp/runbook-test.XXXXXX")
  local dir = pipe:read("l")
  pipe:close()
  return dir
end

--- sh(command [, stdin]) -> {out=, err=, code=}: runs through /bin/sh. The sanitizer
-- run preloads ASan into busted only: child processes go without (the ASan build of
-- runbook carries its own runtime, and other programs must not get one).
function M.sh(command, stdin)
  local dir = M.tmpdir()
  local input = stdin and M.write(dir .. "/stdin", stdin) or "/dev/null"
  local ok, how, code = os.execute(("unset LD_PRELOAD\n{\n%s\n} <%s >%s/out 2>%s/err"):format(
    command, input, dir, dir))
  local result = { out = slurp(dir .. "/out"), err = slurp(dir .. "/err"),
                   code = how == "exit" and code or 128 + code, ok = ok }
  os.execute("rm -rf " .. M.quote(dir))
  return result
end

--- runbook(args [, stdin]) -> {out=, err=, code=}: the binary under test.
function M.runbook(args, stdin)
  return M.sh(M.quote(M.bin) .. " " .. args, stdin)
end

return M
