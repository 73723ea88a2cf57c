# SPDX-License-Identifier: GPL-2.0
#
# Sourced (never run) by the scripts that write logs.  Each run writes
# into a folder of its own, so make check, make demo, make bench and a
# one-off make vmtest never overwrite each other's logs:
#
#   build/logs/<job>-<YYYYmmdd-HHMMSS>-<pid>/   this run's logs
#   build/logs/<job>                            symlink to the newest
#
# The newest VMPOLICE_LOGS_KEEP (default 10) folders of a job are kept.
#
# A script started by another one (make check runs vmtest.sh, deb-guest.sh
# and build-module.sh) writes into its parent's folder: the folder is
# exported as VMPOLICE_LOGS, which a caller may also set itself.
#
# Usage: TOP=<tree>; . "$TOP/scripts/logs.sh"; vmp_logs JOB
# Sets and exports LOGS (= VMPOLICE_LOGS), creates the folder.

vmp_logs()
{
	local job=$1 name

	if [ -n "${VMPOLICE_LOGS:-}" ]; then
		LOGS=$VMPOLICE_LOGS
		mkdir -p "$LOGS"
	else
		name=$job-$(date +%Y%m%d-%H%M%S)-$$
		LOGS=$TOP/build/logs/$name
		mkdir -p "$LOGS"
		ln -sfn "$name" "$TOP/build/logs/$job"
		# names sort by date: all but the newest few go
		find "$TOP/build/logs" -mindepth 1 -maxdepth 1 -type d \
			-name "$job-[0-9]*-[0-9]*-[0-9]*" | sort |
			head -n -"${VMPOLICE_LOGS_KEEP:-10}" |
			xargs -r rm -rf --
	fi
	VMPOLICE_LOGS=$LOGS
	export VMPOLICE_LOGS
}
