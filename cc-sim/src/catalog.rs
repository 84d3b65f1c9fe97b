//! The service plans the CC knows, read from the brokers' catalogs.
//!
//! The real CC stores catalogs when a broker is registered; cc-sim fetches a
//! broker's catalog lazily, on first need, so brokers may start after it. A
//! plan guid it does not know triggers a fresh fetch from every broker (a
//! catalog may have grown). The plan guid in the CC is the broker's plan `id`.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::broker::{BrokerClient, BrokerError, Catalog};
use crate::config::BrokerConfig;

/// One plan, with where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The broker's plan `id`, which is the plan guid in the CC.
    pub guid: String,
    pub name: String,
    pub description: String,
    /// The broker's service `id` (the service offering guid).
    pub service_id: String,
    pub broker: String,
}

/// Catalogs fetched so far, by broker name.
pub struct Catalogs {
    brokers: Vec<BrokerConfig>,
    fetched: Mutex<HashMap<String, Vec<Plan>>>,
}

impl Catalogs {
    pub fn new(brokers: Vec<BrokerConfig>) -> Self {
        Catalogs {
            brokers,
            fetched: Mutex::new(HashMap::new()),
        }
    }

    /// The configured broker called `name`.
    pub fn broker(&self, name: &str) -> Option<&BrokerConfig> {
        self.brokers.iter().find(|b| b.name == name)
    }

    /// Every plan of every broker, in config then catalog order. Fetches the
    /// catalogs not fetched yet; if one cannot be fetched, that is the error.
    pub async fn plans(&self, client: &BrokerClient) -> Result<Vec<Plan>, BrokerError> {
        for broker in &self.brokers {
            if !self.lock().contains_key(&broker.name) {
                self.fetch(client, broker).await?;
            }
        }
        let fetched = self.lock();
        Ok(self
            .brokers
            .iter()
            .flat_map(|b| fetched.get(&b.name).cloned().unwrap_or_default())
            .collect())
    }

    /// The plan with this guid. Not known yet: fetch every catalog again and
    /// look once more. `Ok(None)` means no broker offers it; `Err` means it
    /// is not known and some broker could not be asked.
    pub async fn find(
        &self,
        client: &BrokerClient,
        guid: &str,
    ) -> Result<Option<Plan>, BrokerError> {
        if let Some(plan) = self.known(guid) {
            return Ok(Some(plan));
        }
        let mut first_error = None;
        for broker in &self.brokers {
            if let Err(e) = self.fetch(client, broker).await {
                first_error.get_or_insert(e);
            }
        }
        match (self.known(guid), first_error) {
            (Some(plan), _) => Ok(Some(plan)),
            (None, Some(e)) => Err(e),
            (None, None) => Ok(None),
        }
    }

    fn known(&self, guid: &str) -> Option<Plan> {
        let fetched = self.lock();
        self.brokers
            .iter()
            .filter_map(|b| fetched.get(&b.name))
            .flatten()
            .find(|p| p.guid == guid)
            .cloned()
    }

    /// Fetch one broker's catalog (without holding the lock) and keep it.
    async fn fetch(&self, client: &BrokerClient, broker: &BrokerConfig) -> Result<(), BrokerError> {
        let catalog = client.catalog(broker).await?;
        let plans = plans_of(&broker.name, catalog);
        tracing::info!(broker = %broker.name, plans = plans.len(), "fetched catalog");
        self.lock().insert(broker.name.clone(), plans);
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Plan>>> {
        self.fetched.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn plans_of(broker: &str, catalog: Catalog) -> Vec<Plan> {
    catalog
        .services
        .into_iter()
        .flat_map(|service| {
            service.plans.into_iter().map(move |plan| Plan {
                guid: plan.id,
                name: plan.name,
                description: plan.description,
                service_id: service.id.clone(),
                broker: broker.to_string(),
            })
        })
        .collect()
}
