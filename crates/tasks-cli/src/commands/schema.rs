//! `tasks schema`: prints the SQL schema of a store, for a DBA or a migration tool. Needs no
//! database: the driver comes from `--driver`, else from the configured store's URL.

use clap::Args;
use tasks::{Driver, SchemaTarget};

use crate::context::Context;
use crate::error::CliError;
use crate::output::{print_json, write_stdout};

/// Options of `tasks schema`.
#[derive(Args, Debug)]
pub(crate) struct SchemaArgs {
    /// sqlite or postgres [default: the driver of --db or the config file's store]
    #[arg(long, value_name = "DRIVER", value_parser = parse_driver)]
    driver: Option<Driver>,
    /// The PostgreSQL schema holding the tables [default: public]
    #[arg(long, value_name = "SCHEMA")]
    schema: Option<String>,
    /// The PostgreSQL table prefix [default: tasks_]
    #[arg(long, value_name = "PREFIX")]
    prefix: Option<String>,
}

fn parse_driver(text: &str) -> Result<Driver, String> {
    text.parse::<Driver>().map_err(|err| err.to_string())
}

pub(crate) fn run(args: SchemaArgs, context: &Context) -> Result<(), CliError> {
    let mut target = match args.driver {
        Some(driver) => SchemaTarget::new(driver),
        None => SchemaTarget::from(&context.store_config()?),
    };
    if let Some(schema) = args.schema {
        target = target.schema(schema);
    }
    if let Some(prefix) = args.prefix {
        target = target.table_prefix(prefix);
    }
    let driver = target.driver;
    let sql = tasks::task_store_schema(target)?;
    if context.json() {
        print_json(&serde_json::json!({ "driver": driver.name(), "sql": sql }))
    } else {
        write_stdout(sql.trim_end())
    }
}
