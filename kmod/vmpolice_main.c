// SPDX-License-Identifier: GPL-2.0
/*
 * vmpolice: police virtual machines' traffic on the host, charging what
 * the wire carries.  One module registers both forms of the policer: the
 * "vmpolice" tc action and the "vmpolice" qdisc.
 */

#include <linux/module.h>
#include <net/act_api.h>
#include <net/pkt_sched.h>

#include "vmpolice_core.h"
#include "vmpolice_main.h"

static int __init vmpolice_init(void)
{
	int err;

	err = vmp_core_init();
	if (err)
		return err;
	err = vmp_hold_init();
	if (err)
		goto err_core;
	err = vmp_act_register();
	if (err)
		goto err_hold;
	err = vmp_sch_register();
	if (err)
		goto err_act;
	err = vmp_genl_register();
	if (err)
		goto err_sch;
	return 0;

err_sch:
	vmp_sch_unregister();
err_act:
	vmp_act_unregister();
err_hold:
	vmp_hold_exit();
err_core:
	vmp_core_exit();
	return err;
}

static void __exit vmpolice_exit(void)
{
	vmp_genl_unregister();
	vmp_sch_unregister();
	vmp_act_unregister();
	vmp_hold_exit();
	/* policers are freed by call_rcu() into this module's code */
	rcu_barrier();
	vmp_core_exit();
}

module_init(vmpolice_init);
module_exit(vmpolice_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Guest-aware policer: tc action and qdisc");
MODULE_AUTHOR("The vmpolice developers");
MODULE_VERSION("0.1.0");
/* Both spellings: "act_KIND"/"sch_KIND" before 6.10, "net-*-KIND" after. */
MODULE_ALIAS("act_vmpolice");
MODULE_ALIAS_NET_ACT("vmpolice");
MODULE_ALIAS("sch_vmpolice");
MODULE_ALIAS_NET_SCH("vmpolice");
