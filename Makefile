# kvm-netcheck: `make report` checks this machine, `make test` runs the project's own tests.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest

# what libvirt-python needs to build, and a venv
SYS_BUILD := python3-venv python3-dev gcc pkg-config libvirt-dev
# what the lab of real hosts needs (make test, make demo); mmdebstrap builds the roots of lab hosts of
# other Debian releases (lab/releases.py), once, in /var/cache/kvm-netcheck-lab/roots
SYS_LAB := libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 \
           ipxe-qemu dnsmasq-base iptables openssh-server openssh-client iproute2 tcpdump procps \
           util-linux firewalld dbus nftables chromium sudo \
           network-manager netplan.io ifupdown bridge-utils openvswitch-switch busybox isc-dhcp-server \
           mmdebstrap

.PHONY: report test lint format demo docs sysdeps-build sysdeps-lab clean

report: $(VENV)/.installed
	$(PYTEST)

# SELFTEST_ARGS='-n 2 --dist loadgroup' runs the tests on two pytest-xdist workers: a test module stays on
# one of them (its lab and suite run are made once), the truth tests spread (selftests/conftest.py).
# KNC_TRUTH_RELEASES=none: the truth tests on this machine's release only (selftests/support.py)
SELFTEST_ARGS ?=
test: sysdeps-lab $(VENV)/.installed lint
	$(PYTEST) -c selftests/pytest.ini $(SELFTEST_ARGS) selftests

# ruff's lint and format check (pyproject.toml [tool.ruff]); `make format` applies the format
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .

demo: sysdeps-lab $(VENV)/.installed
	$(PY) -m lab.demo

# the README's check table (and later docs) from kvmnetcheck/catalog; make test fails when they lag
docs: $(VENV)/.installed
	$(PY) -m kvmnetcheck.catalog.docs

sysdeps-build:
	@missing=$$(for p in $(SYS_BUILD); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

sysdeps-lab: sysdeps-build
	@missing=$$(for p in $(SYS_LAB); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(VENV)/.installed: pyproject.toml | sysdeps-build
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) reports/*.html reports/*.xml reports/*.json
