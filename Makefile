# orgcarbon — the two commands: `make run` and `make test`. `make install` is their shared step.
# Needs only Python 3.11+ (with venv) and make; everything else is installed into .venv from uv.lock.

PYTHON ?= python3
VENV   := .venv
TOOLS  := .tools
UV     := $(TOOLS)/bin/uv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
PYTEST_ARGS ?=

export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
export UV_PYTHON := $(shell command -v $(PYTHON))

MO_FILES := $(patsubst %.po,%.mo,$(wildcard orgcarbon/translations/*/LC_MESSAGES/messages.po))

.PHONY: install run test lint translations clean help

help:
	@echo "make run      安装、迁移、载入演示数据并启动 http://$(HOST):$(PORT)/"
	@echo "make test     安装并运行全部测试"
	@echo "make install  创建 .venv 并按 uv.lock 安装依赖"
	@echo "make lint     ruff 与 mypy 检查"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==0.13.9"

# The stamp is refreshed whenever the lock or the project metadata changes.
# The LDAP single sign-on extra (python-ldap) compiles against OpenLDAP's headers; it is added
# when they are installed (Debian: libldap2-dev libsasl2-dev), as in CI.
SSO_EXTRA := $(if $(wildcard /usr/include/ldap.h),--extra sso,)

$(VENV)/.installed: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --all-groups $(SSO_EXTRA)
	touch $@

%.mo: %.po $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -i $< -o $@

install: $(VENV)/.installed $(MO_FILES)

run: install
	$(BIN)/orgcarbon init
	$(BIN)/orgcarbon demo --account 2024
	@$(BIN)/python -m orgcarbon.platform.banner --host $(HOST) --port $(PORT)
	$(BIN)/orgcarbon run --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check orgcarbon tests benchmarks
	$(BIN)/mypy orgcarbon/rules orgcarbon/security/crypto

# After changing user-facing strings: extract, merge into zh/en, then translate the new entries.
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k _l --no-location --omit-header -o orgcarbon/translations/messages.pot .
	$(BIN)/pybabel update -i orgcarbon/translations/messages.pot -d orgcarbon/translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache
