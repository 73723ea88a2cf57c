/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _VMPOLICE_MAIN_H
#define _VMPOLICE_MAIN_H

int vmp_act_register(void);
void vmp_act_unregister(void);
int vmp_sch_register(void);
void vmp_sch_unregister(void);

#endif /* _VMPOLICE_MAIN_H */
