# SPDX-License-Identifier: GPL-2.0
#
# vmpolice: thin wrapper around kbuild (the real build description is in
# Kbuild and kmod/Kbuild) plus the test entry points.
#
#   make [module]          build kmod/vmpolice.ko against KDIR
#   make install           modules_install + depmod
#   make dkms-install      copy the tree to /usr/src and dkms add/build/install
#   make deb               Debian packages vmpolice-dkms, vmpolice-tc in build/deb/
#   make deb-check         install/purge them in a Debian 12 chroot (KTAP)
#   make modules-all       build for the 6.1, 6.12 and debug guest kernels, W=1
#   make vmtest KERNEL=6.1|6.12|debug [TESTS="a.sh b.sh"]
#   make checkpatch        checkpatch.pl --strict on kmod/
#   make check             everything that gates a merge (CI: .ci/run)
#   make demo [KERNEL=]    a simulated VM policed by vmpolice and police, live
#   make bench [KERNEL=]   the conformance benchmark, into results/
#   make bench-bucket [REPS=9] [ITERS=10000000]  userspace contention
#                          benchmark of the bucket code against police's
#                          spinlock, into results/bucket-contention.md
#   make mutants [FAULTS="a b"] [BUDGET=min]  deliberate faults, one at a
#                          time in build/mutants/tree: which no test catches

KERNELRELEASE ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KERNELRELEASE)/build
DEPMOD ?= depmod
DKMS ?= dkms
VERSION ?= $(shell sed -n 's/^PACKAGE_VERSION="\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' dkms.conf 2>/dev/null)
KERNEL ?= 6.1
TESTS ?=
# make bench / make demo boot the stock 6.12 kernel unless KERNEL is given
BENCH_KERNEL = $(if $(filter command line environment,$(origin KERNEL)),$(KERNEL),6.12)

all: module

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

module-install install: module
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install \
		$(if $(DESTDIR),INSTALL_MOD_PATH=$(DESTDIR))
	$(DEPMOD) -b "$(or $(DESTDIR),/)" -a $(KERNELRELEASE)

dkms-install:
	@test -n "$(VERSION)" || { echo "no PACKAGE_VERSION in dkms.conf" >&2; exit 1; }
	rm -rf $(DESTDIR)/usr/src/vmpolice-$(VERSION)
	install -d $(DESTDIR)/usr/src/vmpolice-$(VERSION)
	rsync -a --exclude '*.o' --exclude '*.ko' --exclude '*.mod' \
		--exclude '*.mod.c' --exclude '.*.cmd' --exclude modules.order \
		--exclude Module.symvers \
		Kbuild Makefile dkms.conf LICENSE kmod \
		$(DESTDIR)/usr/src/vmpolice-$(VERSION)/
	-$(DKMS) remove -m vmpolice -v $(VERSION) --all >/dev/null 2>&1
	$(DKMS) add -m vmpolice -v $(VERSION)
	$(DKMS) build -m vmpolice -v $(VERSION) -k $(KERNELRELEASE)
	$(DKMS) install -m vmpolice -v $(VERSION) -k $(KERNELRELEASE)

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	rm -rf build

deb:
	scripts/build-deb.sh

deb-check:
	scripts/deb-check.sh

modules-all:
	@for k in 6.1 6.12 debug; do \
		scripts/build-module.sh $$k || exit 1; \
	done

module-%:
	scripts/build-module.sh $*

debug-kernel:
	scripts/build-debug-kernel.sh

vmtest:
	scripts/vmtest.sh $(KERNEL) "$(TESTS)"

checkpatch style:
	scripts/checkpatch.sh

check:
	scripts/check.sh

demo:
	scripts/demo.sh $(BENCH_KERNEL)

mutants:
	scripts/mutants.sh $(if $(BUDGET),--budget $(BUDGET)) $(FAULTS)

bench-bucket:
	BENCH_COMMAND="make bench-bucket$(if $(REPS), REPS=$(REPS))$(if $(ITERS), ITERS=$(ITERS))" \
		bench/bucket/run.sh $(or $(REPS),9) $(or $(ITERS),10000000)

bench:
	scripts/setup-host.sh
	BENCH_COMMAND="make bench$(if $(filter command line,$(origin KERNEL)), KERNEL=$(KERNEL))" \
		scripts/bench.sh $(BENCH_KERNEL)

.PHONY: all module module-install install dkms-install deb deb-check clean modules-all \
	debug-kernel vmtest checkpatch style check demo bench bench-bucket mutants
