//! Schema statements beyond tables' own DDL (`ddl`): renaming tables with their
//! topo records ([`rename`]), views recorded with the placement of what they
//! read ([`views`]), stored functions, procedures and triggers placed where they
//! see the right rows ([`routines`]).

pub mod rename;
