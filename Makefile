# runbook — build, test, install. `make` installs missing build dependencies (vendor/) and
# builds ./runbook; `make test` runs every test; `make demo` runs the failover against the
# embedded lab.

VERSION   = 0.1.0
PREFIX   ?= /usr/local
BINDIR    = $(PREFIX)/bin
DATADIR   = $(PREFIX)/share/runbook
DOCDIR    = $(PREFIX)/share/doc/runbook
MANDIR    = $(PREFIX)/share/man/man1
# The C modules the binary loads on first use: $(PKGLIBDIR)/runbook/NAME.so, which
# runtime/host.c finds as $(DATADIR)/../../lib/runbook, wherever PREFIX is.
PKGLIBDIR = $(PREFIX)/lib/runbook
BASH_COMPLETION_DIR = $(PREFIX)/share/bash-completion/completions
ZSH_COMPLETION_DIR  = $(PREFIX)/share/zsh/vendor-completions
# VENDOR=no: the packages are there already (a Debian package build, whose Build-Depends
# installed them): never run vendor/install.sh.
VENDOR   ?= yes
# Where lua5.4 finds modules, for `require "runbook.task"` outside ./runbook: into the
# distribution's own directories (pkg-config's INSTALL_CMOD, INSTALL_LMOD) when PREFIX is
# Lua's prefix, else into Lua's default directories under PREFIX, which lua5.4 searches for
# /usr/local on every distribution (LUA_CPATH and LUA_PATH for any other PREFIX).
LUA_PREFIX = $(shell pkg-config --variable=prefix lua5.4)
lua_var    = $(if $(filter $(LUA_PREFIX),$(PREFIX)),$(shell pkg-config --variable=$(1) lua5.4))
LUA_CMOD   = $(or $(call lua_var,INSTALL_CMOD),$(PREFIX)/lib/lua/5.4)
LUA_LMOD   = $(or $(call lua_var,INSTALL_LMOD),$(PREFIX)/share/lua/5.4)

CC       ?= cc
CFLAGS   ?= -O2 -g
PKGS      = lua5.4 libcares expat
# libcurl, libssh2, OpenSSL and GSS-API are linked only into the modules that use them,
# loaded on first use: linked into the binary they would quadruple start-up time (bench/RESULTS.md).
LAZY_PKGS = libcurl libssh2 openssl krb5-gssapi
WARN      = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror
# Recursive (=) so that pkg-config runs after `deps` has installed the packages.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) $(LAZY_PKGS) libedit)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
EDIT_LIBS  = $(shell pkg-config --libs libedit)
DEFS       = -DRUNBOOK_VERSION='"$(VERSION)"' -DRUNBOOK_DATADIR='"$(DATADIR)"' \
             -DLIBEDIT_PKG_VERSION='"$(shell pkg-config --modversion libedit)"'
SANITIZE   = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# The primitives: linked into ./runbook and built as runbook.so for lua5.4 and busted.
LIB_SRC   = runtime/loop.c runtime/task.c runtime/fs.c runtime/version.c runtime/msg.c
LIB_SRC  += runtime/net.c runtime/xml.c
LIB_SRC  += runtime/dns.c runtime/dns_update.c runtime/dns_wire.c
LIB_SRC  += runtime/permit.c
HOST_SRC  = runtime/main.c runtime/host.c runtime/usage.c runtime/repl.c
# Primitives that need libcurl, libssh2 or OpenSSL: one C module each, loaded on first
# require (build/lib/runbook/NAME.so), reaching the loop through runtime/loop_api.h.
MODULES   = ssh
MODULES  += tsig http
MODULES  += tls
MODULES  += process
MODULES  += gss
MODULE_SO = $(MODULES:%=build/lib/runbook/%.so)
ASAN_MODULE_SO = $(MODULES:%=build/asan/lib/runbook/%.so)
LIB_OBJ   = $(LIB_SRC:runtime/%.c=build/obj/%.o)
HOST_OBJ  = $(HOST_SRC:runtime/%.c=build/obj/%.o)
ASAN_OBJ  = $(LIB_SRC:runtime/%.c=build/asan/%.o)
ASAN_HOST = $(HOST_SRC:runtime/%.c=build/asan/%.o)
HEADERS   = $(wildcard runtime/*.h)
# C unit tests (tests/unit/): plain C, TAP output; loop_test.c includes runtime/loop.c.
UNIT_SRC  = $(wildcard tests/unit/*.c) runtime/dns_wire.c
UNIT_DEPS = $(UNIT_SRC) runtime/loop.c tests/unit/unit.h $(HEADERS)

.PHONY: all deps deps-test deps-bench test test-asan lint demo bench install uninstall clean deb

all: runbook build/lib/runbook.so $(MODULE_SO)

deps: build/.deps-build
build/.deps-build build/.deps-test build/.deps-bench build/.deps-deb: vendor/packages.txt vendor/install.sh
	@mkdir -p build
	@[ "$(VENDOR)" = no ] || vendor/install.sh $(patsubst build/.deps-%,%,$@)
	@touch $@

build/obj/%.o: runtime/%.c $(HEADERS) | build/.deps-build
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CPPFLAGS) $(CFLAGS) -fPIC $(PKG_CFLAGS) $(DEFS) -c $< -o $@

build/asan/%.o: runtime/%.c $(HEADERS) | build/.deps-build
	@mkdir -p $(@D)
	$(CC) $(WARN) -O1 -g $(SANITIZE) -fPIC $(PKG_CFLAGS) $(DEFS) -c $< -o $@

runbook: $(LIB_OBJ) $(HOST_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -Wl,-E -o $@ $^ $(PKG_LIBS) $(EDIT_LIBS) -lm

# lua5.4 exports the Lua API itself: the module must not link liblua again.
build/lib/runbook.so: $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -shared -o $@ $^ $(filter-out -llua5.4,$(PKG_LIBS)) -lm

build/asan/lib/runbook.so: $(ASAN_OBJ)
	@mkdir -p $(@D)
	$(CC) -shared $(SANITIZE) -o $@ $^ $(filter-out -llua5.4,$(PKG_LIBS)) -lm

build/asan/runbook: $(ASAN_OBJ) $(ASAN_HOST)
	$(CC) $(SANITIZE) -Wl,-E -o $@ $^ $(PKG_LIBS) $(EDIT_LIBS) -lm

# libraries of each module, e.g. MODULE_LIBS_http = libcurl
module_libs = $(if $(MODULE_LIBS_$(1)),$(shell pkg-config --libs $(MODULE_LIBS_$(1))))
MODULE_LIBS_ssh = libssh2
MODULE_LIBS_tsig = libcrypto
MODULE_LIBS_http = libcurl
MODULE_LIBS_tls = openssl
MODULE_LIBS_gss = krb5-gssapi krb5 libcrypto

build/lib/runbook/%.so: runtime/%.c $(HEADERS) | build/.deps-build
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -fPIC -DRUNBOOK_MODULE $(PKG_CFLAGS) $(DEFS) \
	  -shared -o $@ $< $(call module_libs,$*)

build/asan/lib/runbook/%.so: runtime/%.c $(HEADERS) | build/.deps-build
	@mkdir -p $(@D)
	$(CC) $(WARN) -O1 -g $(SANITIZE) -fPIC -DRUNBOOK_MODULE $(PKG_CFLAGS) $(DEFS) -shared \
	  -o $@ $< $(call module_libs,$*)

build/unit/tests: $(UNIT_DEPS) | build/.deps-build
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -Iruntime $(PKG_CFLAGS) -o $@ $(UNIT_SRC) $(PKG_LIBS) -lm

build/asan/unit/tests: $(UNIT_DEPS) | build/.deps-build
	@mkdir -p $(@D)
	$(CC) $(WARN) -O1 -g $(SANITIZE) -Iruntime $(PKG_CFLAGS) -o $@ $(UNIT_SRC) $(PKG_LIBS) -lm

test: build/.deps-test build/.deps-deb all build/asan/lib/runbook.so build/asan/runbook $(ASAN_MODULE_SO) \
      build/unit/tests build/asan/unit/tests
	@tests/run.sh

# The Lua sources: luacheck with .luacheckrc, then the layering check (engine below
# product below lab, no cycle, no hidden function-local require: tests/helpers/layering.lua).
lint: build/.deps-test
	luacheck -q --formatter plain modules runbooks examples tests
	lua5.4 tests/helpers/layering.lua .

demo: all
	./runbook run xmpp-failover.lua --yes

bench: build/.deps-bench all
	@bench/run.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(PKGLIBDIR)/runbook
	install -m 755 runbook $(DESTDIR)$(BINDIR)/runbook
	cp -R modules runbooks examples $(DESTDIR)$(DATADIR)/
	install -m 644 $(MODULE_SO) $(DESTDIR)$(PKGLIBDIR)/runbook/
	install -d $(DESTDIR)$(MANDIR) $(DESTDIR)$(DOCDIR)
	install -m 644 docs/runbook.1 $(DESTDIR)$(MANDIR)/runbook.1
	install -m 644 docs/*.md LICENSE $(DESTDIR)$(DOCDIR)/
	install -d $(DESTDIR)$(BASH_COMPLETION_DIR) $(DESTDIR)$(ZSH_COMPLETION_DIR)
	install -m 644 runtime/completion/runbook.bash $(DESTDIR)$(BASH_COMPLETION_DIR)/runbook
	install -m 644 runtime/completion/_runbook $(DESTDIR)$(ZSH_COMPLETION_DIR)/_runbook
	install -d $(DESTDIR)$(LUA_CMOD)/runbook $(DESTDIR)$(LUA_LMOD)/runbook
	install -m 644 build/lib/runbook.so $(DESTDIR)$(LUA_CMOD)/runbook.so
	install -m 644 $(MODULE_SO) $(DESTDIR)$(LUA_CMOD)/runbook/
	install -m 644 modules/runbook/*.lua $(DESTDIR)$(LUA_LMOD)/runbook/
	sed -e 's|^local installed_datadir = .*|local installed_datadir = "$(DATADIR)"|' \
	  -e 's|^local installed_docdir = .*|local installed_docdir = "$(DOCDIR)"|' \
	  modules/runbook/host.lua >$(DESTDIR)$(LUA_LMOD)/runbook/host.lua

uninstall:
	rm -rf $(DESTDIR)$(BINDIR)/runbook $(DESTDIR)$(DATADIR) $(DESTDIR)$(PKGLIBDIR) \
	  $(DESTDIR)$(DOCDIR) $(DESTDIR)$(MANDIR)/runbook.1 \
	  $(DESTDIR)$(BASH_COMPLETION_DIR)/runbook $(DESTDIR)$(ZSH_COMPLETION_DIR)/_runbook \
	  $(DESTDIR)$(LUA_CMOD)/runbook.so $(DESTDIR)$(LUA_CMOD)/runbook \
	  $(DESTDIR)$(LUA_LMOD)/runbook

# A Debian package with Debian's own tooling (debian/), built from a copy of the tree in
# build/deb/ so that the build leaves nothing in the source; then lintian, which finds no
# error, warning or info (its pedantic repeated-path-segment names usr/lib/runbook/runbook/
# and modules/runbook/: the Lua module name runbook.* below a directory named for the package).
DEB_TREE = build/deb/runbook-$(VERSION)
deb: build/.deps-deb
	rm -rf build/deb && mkdir -p $(DEB_TREE)
	tar -cf - --exclude=./build --exclude=./.git --exclude=./runbook . | tar -xf - -C $(DEB_TREE)
	cd $(DEB_TREE) && dpkg-buildpackage -us -uc -b >$(CURDIR)/build/deb/build.log 2>&1 || \
	  { tail -30 $(CURDIR)/build/deb/build.log; exit 1; }
	lintian --allow-root --fail-on error,warning,info build/deb/runbook_$(VERSION)_*.deb
	@echo "built: $$(ls build/deb/runbook_$(VERSION)_*.deb)"

clean:
	rm -rf build runbook
